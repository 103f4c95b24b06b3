/*
 * view.h — per-user views of one embedded backend, for the server
 * (api/server.c): every user of `sievefs serve` gets the operations of
 * core/local.c over the same store and the same sampling runner, with the
 * dataset owner set to that user.
 *
 * A view borrows the store, blob store and runner of `base`: it must be destroyed
 * (be->ops->destroy) before base is. Views are cheap (one small allocation)
 * and as thread-safe as the backend they view.
 *
 * Ownership is NOT fully enforced by the view: local*.c check the owner for
 * operations addressed by dataset id, but tags, nodes and embeddings addressed
 * by their own id are not checked; the caller (the server) checks the owning
 * dataset of every id before calling the view.
 */
#ifndef SIEVEFS_CORE_VIEW_H
#define SIEVEFS_CORE_VIEW_H

#include "core/backend.h"

/* A view of base (from core_local_open) for `owner`. 0 or -ENOMEM. */
int core_local_view(struct backend *base, const char *owner,
		    struct backend **out);
/* The store under a backend from core_local_open or core_local_view: the
 * handle core/'s server operations take (core/auth.h, core/serve.h,
 * core/lightly.h). */
store *core_local_store(struct backend *be);
/* The blob store of that backend (core/blobs.h): THE way to its bytes. */
struct core_blobs *core_local_blobs(struct backend *be);

#endif
