/*
 * fuzz.h — what every harness in fuzz/ shares: the libFuzzer entry point's
 * prototype (so -Wmissing-prototypes holds) and `check`, which turns a
 * broken property into a crash libFuzzer reports, with the input saved.
 */
#ifndef SIEVEFS_FUZZ_H
#define SIEVEFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that must hold for every input: abort() (a "crash") if not. */
#define check(cond, what)                                                    \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "property broken: %s (%s:%d: %s)\n", \
				(what), __FILE__, __LINE__, #cond);          \
			abort();                                             \
		}                                                            \
	} while (0)

#endif
