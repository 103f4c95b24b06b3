#!/usr/bin/env bash
#
# t_remote_emb — the embeddings CSV rules of issue 10 item 9 on a remote
# mount of a real `sievefs serve` (the server runs the same core code; this
# proves the wire carries them): an export uploads again after one of its
# samples was removed, the skipped row is named in the dataset's log as the
# remote mount shows it; lightly's 'masked'/'selected' columns and columns
# after 'labels' are ignored; 64-bit labels export exactly; a CSV naming no
# sample makes close() fail with EINVAL and log says why.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_lib.sh"
sv_need_binary
sv_need python3 curl grep mountpoint fusermount3

mnt=$T/mnt
remote_mount "$T/store" "$mnt" -o meta_ttl=0 || die "no remote mount"
ok "mkdir dataset" mkdir "$mnt/r" || die "cannot create a dataset"
ds=$mnt/r
emb=$ds/embeddings
for i in 1 2 3 4; do printf 'sample %s\n' "$i" >"$T/s$i.bin"; done
ok "cp samples in" cp "$T/s1.bin" "$T/s2.bin" "$T/s3.bin" "$T/s4.bin" "$ds/initial-tag/"

printf '%s\r\n' "filenames,selected,embedding_0,masked,embedding_1,labels,note" \
	"s1.bin,1,0.5,0,1.0,9007199254740993,x" \
	"s2.bin,0,-2.0,1,0.25,-9223372036854775808," \
	"s3.bin,0,1e-05,1,3.0,7,\"a, b\"" \
	"s4.bin,1,0.1,0,-0.0,0,y" >"$T/flags.csv"
printf '%s\r\n' "filenames,embedding_0,embedding_1,labels" \
	"s1.bin,0.5,1.0,9007199254740993" \
	"s2.bin,-2.0,0.25,-9223372036854775808" \
	"s3.bin,1e-05,3.0,7" \
	"s4.bin,0.1,-0.0,0" >"$T/flags.expected"
ok "cp a CSV with flag and extra columns, 64-bit labels" cp "$T/flags.csv" "$emb/e.csv"
ok "cat e.csv" cat "$emb/e.csv"
expect_list_eq "$T/flags.expected" "$T/last.out" "the export: extra columns dropped, labels exact"
ok "export e.csv" cp "$emb/e.csv" "$T/e.export"
ok "rm s3.bin" rm "$ds/initial-tag/s3.bin"
ok "the export uploads again after the rm" cp "$T/e.export" "$emb/again.csv"
ok "cat log" cat "$ds/log"
expect_contains "$T/last.out" "skipped 1 row naming no sample: 's3.bin'" \
	"log: skipped 1 row naming no sample: 's3.bin'"
grep -v '^s3.bin,' "$T/flags.expected" >"$T/again.expected"
ok "cat again.csv" cat "$emb/again.csv"
expect_list_eq "$T/again.expected" "$T/last.out" "again.csv holds the export less s3.bin"
printf '%s\r\n' "filenames,embedding_0,labels" "nope.bin,1.0,0" >"$T/none.csv"
expect_errno "Invalid argument" cp "$T/none.csv" "$emb/none.csv"
ok "cat log" cat "$ds/log"
expect_contains "$T/last.out" "embeddings/none.csv not stored: no row names a sample" \
	"log: a CSV naming no sample is refused, and says why"
expect_errno "No such file or directory" cat "$emb/none.csv"
sv_umount "$mnt"
