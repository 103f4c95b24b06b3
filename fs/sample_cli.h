/*
 * sample_cli.h — `sievefs sample`: see sample_cli.c. Blocks until the run
 * ends; returns the process exit status.
 */
#ifndef SIEVEFS_FS_SAMPLE_CLI_H
#define SIEVEFS_FS_SAMPLE_CLI_H

/* argv[0] is "sample", argv[1] the dataset folder, the rest the request. */
int fs_sample_cli(int argc, char **argv);

#endif
