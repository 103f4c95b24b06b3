/*
 * server_ranged.c — answering the bytes of an open file, honouring one
 * Range of the request (RFC 9110 14): 200 with all of it, 206 with
 * Content-Range, or 416 when the range cannot be satisfied. A Range that
 * is not a valid byte range, or names several, is ignored (200), as the
 * RFC allows. Used by GET /v1/blobs/{sha} and GET /v1/nodes/{ino}/image;
 * libmicrohttpd sends the file with sendfile from the given offset.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/server_int.h"

/* Parses "bytes=A-B", "bytes=A-", "bytes=-N": 1 partial (off, len set),
 * 0 serve everything (absent, several ranges, or not a valid range, which
 * RFC 9110 says to ignore), -1 unsatisfiable. */
static int parse_range(const char *h, int64_t size, int64_t *off,
		       int64_t *len)
{
	char *end;
	long long a, b = -1;

	if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {
		b = strtoll(h + 1, &end, 10);
		if (end == h + 1 || *end)
			return 0;               /* not a range: ignored */
		if (b <= 0 || size == 0)
			return -1;
		*off = b >= size ? 0 : size - b;
		*len = size - *off;
		return 1;
	}
	a = strtoll(h, &end, 10);
	if (end == h || a < 0 || *end != '-')
		return 0;               /* not a range: ignored (RFC 9110 14.2) */
	h = end + 1;
	if (*h) {
		b = strtoll(h, &end, 10);
		if (*end || b < a)
			return 0;
	}
	if (a >= size)
		return -1;
	if (b < 0 || b >= size)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

enum MHD_Result srv_send_fd_ranged(struct MHD_Connection *c, int fd,
				   int64_t size, const char *type,
				   const char *const *headers)
{
	struct MHD_Response *resp;
	int64_t off = 0, len = size;
	char cr[96];
	int pr = parse_range(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_RANGE),
			     size, &off, &len);

	if (pr < 0) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, (char *)"",
						       MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		snprintf(cr, sizeof(cr), "bytes */%lld", (long long)size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		return srv_send_resp(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp,
				     NULL);
	}
	resp = MHD_create_response_from_fd_at_offset64((uint64_t)len, fd,
							(uint64_t)off);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	for (size_t i = 0; headers && headers[i]; i += 2)
		if (headers[i + 1])
			MHD_add_response_header(resp, headers[i],
						headers[i + 1]);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (pr > 0) {
		snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", (long long)off,
			 (long long)(off + len - 1), (long long)size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	return srv_send_resp(c, pr > 0 ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK,
			     resp, type);
}
