/*
 * floor.c — bench/fs's fifth side: the least a FUSE file system can do to
 * serve a directory's files for reading, so bench/fs can show what FUSE
 * itself allows on this machine and how far sievefs's design is from it.
 *
 *   floor SOURCE MOUNTPOINT [-f] [-s] [-o opt,...]
 *
 * It mirrors SOURCE read-only through libfuse's low-level API and answers
 * OPEN and OPENDIR with ENOSYS. The kernel then stops sending OPEN, FLUSH
 * and RELEASE (and OPENDIR/RELEASEDIR) for the whole connection — its
 * "no-open" modes — and keeps a file's page cache across opens, so a warm
 * re-read of a file costs no request at all once its entry and attributes
 * are cached (they are given for a day, like passthrough_ll's
 * cache=always). That is what no file system with writable files can do
 * on its connection: it must see opens and closes to know when a written
 * file is complete (see fs/fs.h, "the read gap").
 *
 * What it keeps: one node per inode the kernel knows (found by st_dev and
 * st_ino, so hard links share one), holding an fd — O_RDONLY for a
 * regular file (READ is a pread on it, spliced when the kernel allows),
 * O_RDONLY|O_DIRECTORY for a folder (READDIR reads it at the kernel's
 * offset, under the node's lock), O_PATH for anything else — and the
 * kernel's lookup count; FORGET frees it at zero. Nothing is cached here:
 * the kernel caches. Written for the benchmark only: no write operation,
 * no xattrs, no locks. It needs an open-files limit above the number of
 * inodes the kernel holds (bench/fs raises it, as for passthrough_ll).
 *
 * Failure: every request answers the errno of the syscall that failed;
 * start-up errors are printed and exit 1.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <sys/statvfs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY 86400.0
#define BUCKETS 65536u

struct node {
	struct node *next;	/* hash chain */
	dev_t dev;
	ino_t ino;
	int fd;
	int isdir;
	uint64_t nlookup;	/* guarded by table_lock */
	pthread_mutex_t dir_lock;	/* a folder's fd offset */
	DIR *dir;		/* a folder's stream, made on first READDIR */
};

static struct node root;
static struct node *table[BUCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned bucket(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;
	return (unsigned)(h >> 48) % BUCKETS;
}

static struct node *node_of(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &root : (struct node *)(uintptr_t)ino;
}

static void node_free(struct node *n)
{
	if (n->dir)
		closedir(n->dir);	/* closes n->fd too */
	else
		close(n->fd);
	pthread_mutex_destroy(&n->dir_lock);
	free(n);
}

/* Finds or makes the node of name in parent (st already filled); takes one
 * lookup reference. NULL with errno on failure. */
static struct node *node_get(struct node *parent, const char *name,
			     const struct stat *st)
{
	unsigned b = bucket(st->st_dev, st->st_ino);
	struct node *n;

	pthread_mutex_lock(&table_lock);
	for (n = table[b]; n; n = n->next)
		if (n->dev == st->st_dev && n->ino == st->st_ino) {
			n->nlookup++;
			pthread_mutex_unlock(&table_lock);
			return n;
		}
	pthread_mutex_unlock(&table_lock);

	int flags = S_ISREG(st->st_mode) ? O_RDONLY
		  : S_ISDIR(st->st_mode) ? O_RDONLY | O_DIRECTORY : O_PATH;
	int fd = openat(parent->fd, name, flags | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct node *made = calloc(1, sizeof(*made));
	if (!made) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	made->dev = st->st_dev;
	made->ino = st->st_ino;
	made->fd = fd;
	made->isdir = S_ISDIR(st->st_mode);
	made->nlookup = 1;
	pthread_mutex_init(&made->dir_lock, NULL);

	/* Another thread may have made it meanwhile: keep the first. */
	pthread_mutex_lock(&table_lock);
	for (n = table[b]; n; n = n->next)
		if (n->dev == st->st_dev && n->ino == st->st_ino) {
			n->nlookup++;
			pthread_mutex_unlock(&table_lock);
			node_free(made);
			return n;
		}
	made->next = table[b];
	table[b] = made;
	pthread_mutex_unlock(&table_lock);
	return made;
}

static void node_forget(fuse_ino_t ino, uint64_t count)
{
	struct node *n = node_of(ino), **p;

	if (n == &root)
		return;
	pthread_mutex_lock(&table_lock);
	if (n->nlookup > count) {
		n->nlookup -= count;
		pthread_mutex_unlock(&table_lock);
		return;
	}
	for (p = &table[bucket(n->dev, n->ino)]; *p; p = &(*p)->next)
		if (*p == n) {
			*p = n->next;
			break;
		}
	pthread_mutex_unlock(&table_lock);
	node_free(n);
}

static void fl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *p = node_of(parent);
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	if (fstatat(p->fd, name, &e.attr, AT_SYMLINK_NOFOLLOW) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	struct node *n = node_get(p, name, &e.attr);
	if (!n) {
		fuse_reply_err(req, errno);
		return;
	}
	e.ino = (fuse_ino_t)(uintptr_t)n;
	e.attr_timeout = DAY;
	e.entry_timeout = DAY;
	fuse_reply_entry(req, &e);
}

static void fl_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(ino, nlookup);
	fuse_reply_none(req);
}

static void fl_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		node_forget(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fl_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (fstat(node_of(ino)->fd, &st) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, DAY);
}

static void fl_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t len = readlinkat(node_of(ino)->fd, "", buf, sizeof(buf) - 1);

	if (len < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

/* The point of this daemon: ENOSYS puts the connection in no-open mode. */
static void fl_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

static void fl_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	(void)fi;
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = node_of(ino)->fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void fl_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct node *n = node_of(ino);
	char *buf, *p;
	size_t left = size;
	int err = 0;

	(void)fi;
	if (!n->isdir) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p = buf;
	pthread_mutex_lock(&n->dir_lock);
	if (!n->dir && !(n->dir = fdopendir(n->fd)))
		err = errno;
	if (!err)
		seekdir(n->dir, off);
	while (!err) {
		errno = 0;
		struct dirent *d = readdir(n->dir);
		if (!d) {
			err = errno;
			break;
		}
		struct stat st = { .st_ino = d->d_ino,
				   .st_mode = (mode_t)d->d_type << 12 };
		size_t len = fuse_add_direntry(req, p, left, d->d_name, &st,
					       d->d_off);
		if (len > left)
			break;	/* the next call starts at this entry */
		p += len;
		left -= len;
	}
	pthread_mutex_unlock(&n->dir_lock);
	if (err && p == buf)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, (size_t)(p - buf));
	free(buf);
}

static void fl_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(node_of(ino)->fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = fl_lookup,
	.forget = fl_forget,
	.forget_multi = fl_forget_multi,
	.getattr = fl_getattr,
	.readlink = fl_readlink,
	.open = fl_open,
	.opendir = fl_open,
	.read = fl_read,
	.readdir = fl_readdir,
	.statfs = fl_statfs,
};

int main(int argc, char *argv[])
{
	struct fuse_cmdline_opts opts;
	struct fuse_session *se;
	int rc = 1;

	if (argc < 3 || argv[1][0] == '-') {
		fprintf(stderr, "usage: %s SOURCE MOUNTPOINT [-f] [-s] [-o opt,...]\n",
			argv[0]);
		return 1;
	}
	root.fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root.fd < 0) {
		perror(argv[1]);
		return 1;
	}
	root.isdir = 1;
	root.nlookup = 2;
	pthread_mutex_init(&root.dir_lock, NULL);

	argv[1] = argv[0];	/* fuse_parse_cmdline sees MOUNTPOINT and options */
	struct fuse_args args = FUSE_ARGS_INIT(argc - 1, argv + 1);
	if (fuse_parse_cmdline(&args, &opts) != 0 || !opts.mountpoint) {
		fprintf(stderr, "floor: no mount point\n");
		goto out_args;
	}
	if (fuse_opt_add_arg(&args, "-oro,fsname=floor,subtype=floor") != 0)
		goto out_opts;
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se)
		goto out_opts;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(opts.foreground);
	if (opts.singlethread) {
		rc = fuse_session_loop(se) ? 1 : 0;
	} else {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();
		rc = fuse_session_loop_mt(se, cfg) ? 1 : 0;
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_opts:
	free(opts.mountpoint);
out_args:
	fuse_opt_free_args(&args);
	close(root.fd);
	return rc;
}
