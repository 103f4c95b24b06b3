/*
 * lightly.h — what the lightly door (api/routes_lightly.c) keeps in the
 * catalog beside sievefs's own records: the 24-hex ids the lightly client
 * holds for things sievefs names otherwise (embeddings by name, sampling
 * jobs), which datasets had their initial tag made through the door (and
 * in which image mode), the signed write URLs already used, and the
 * server's secret for signing URLs. Part of store/'s interface beside
 * store.h (same errors: 0 or -errno; every call blocks on SQLite).
 */
#ifndef SIEVEFS_STORE_LIGHTLY_H
#define SIEVEFS_STORE_LIGHTLY_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* STORE_LIGHTLY_KEY_LEN, enum store_lightly_kind and struct
 * store_lightly_id are in core/records.h (value types). */

/* The id of (kind, dataset, name), made (12 random bytes) when there is
 * none; for a job, ref replaces the one recorded (a retried sampling with
 * the same tag name) and its tag is reset. */
int store_lightly_id_get(store *st, int kind, int64_t dataset,
			 const char *name, int64_t ref,
			 struct store_lightly_id *out);
/* The record of id; -ENOENT when unknown. */
int store_lightly_id_find(store *st, const char *id,
			  struct store_lightly_id *out);
/* Records the tag a job made. */
int store_lightly_job_done(store *st, const char *id, int64_t tag);

/* A dataset's image type as its initial tag recorded it ("full",
 * "thumbnail", "meta") into buf, 1 if recorded, 0 if not (no initial tag
 * made through the door), or -errno. */
int store_lightly_ds_get(store *st, int64_t dataset, char *buf, size_t len);
int store_lightly_ds_set(store *st, int64_t dataset, const char *img_type);

/* Claims a signed write URL (its signature, hex) until `expires_ns`:
 * 0 when claimed now, -EEXIST when it was claimed before (a replay).
 * Claims past their expiry are dropped on the way. */
int store_lightly_claim(store *st, const char *sig, int64_t expires_ns);
/* Gives a claim back (the write it guarded failed: the URL may be used
 * again until it expires). */
void store_lightly_unclaim(store *st, const char *sig);

/* The server's secret for signed URLs: 32 random bytes kept in the
 * catalog (meta 'lightly_key'), the same for every server of the catalog;
 * made on first use (from an older store's STORE/lightly.key when there is
 * one), concurrent first users agree. 0 or -errno. */
int store_lightly_key(store *st, unsigned char key[STORE_LIGHTLY_KEY_LEN]);

#endif
