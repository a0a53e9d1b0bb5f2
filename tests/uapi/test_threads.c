// SPDX-License-Identifier: MIT
/*
 * Several program threads on one iommufd at once, as a VMM's vCPU and I/O
 * threads would be: two DMA engines (vfio0, vfio3), each with its own
 * fault queue and HWPT over one shared IOAS, each resolved by its own
 * thread that maps the faulting page, answers, checks the bytes and
 * unmaps again, while a third thread allocates and destroys IOASes and
 * dups and closes the iommufd. Only libc and the kernel's uAPI headers.
 */
#include "uapi_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>

#define ROUNDS 40
#define ALLOC_ROUNDS 100

static int ifd;
static uint32_t shared_ioas;
static atomic_int stop_churn;

struct worker {
	unsigned vfio;
	uint64_t base;          /* this worker's IOVA window */
	unsigned ok, faults;
	const char *fail;
};

static int wait_irq(int irq, int ms)
{
	struct pollfd p = { .fd = irq, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1 || read(irq, &v, sizeof(v)) != sizeof(v))
		return -1;
	return 0;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	unsigned char *src = t_alloc(PG), *dst;
	uint32_t dev_id, hwpt = 0, pt;
	uint64_t bar;
	int dfd, irq;

	dfd = t_device_bind(ifd, w->vfio, &dev_id);
	bar = t_region_offset(dfd, VFIO_PCI_BAR0_REGION_INDEX);
	irq = eventfd(0, 0);
	if (t_irq_eventfd(dfd, irq) ||
	    ioctl(ifd, IOMMU_FAULT_QUEUE_ALLOC, &fa)) {
		w->fail = "set-up";
		return NULL;
	}
	for (unsigned i = 0; i < PG; i++)
		src[i] = (unsigned char)(i + w->vfio);
	if (t_map(ifd, shared_ioas, src, PG, w->base, T_RW)) {
		w->fail = "source map";
		return NULL;
	}
	pt = 0;
	if (t_hwpt_alloc_faulting(ifd, dev_id, shared_ioas, fa.out_fault_id,
				  &hwpt) ||
	    (pt = hwpt, t_attach(dfd, &pt))) {
		w->fail = "HWPT";
		return NULL;
	}
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t dst_iova = w->base + (1 + r % 8) * PG;
		struct iommu_hwpt_pgfault rec;
		struct iommu_hwpt_page_response resp;
		struct iommu_ioas_unmap u = { .size = sizeof(u),
					      .ioas_id = shared_ioas,
					      .iova = dst_iova, .length = PG };
		struct pollfd p = { .fd = (int)fa.out_fault_fd,
				    .events = POLLIN };

		dst = t_alloc(PG);
		t_bar_write(dfd, bar, DMA_SRC, w->base, 8);
		t_bar_write(dfd, bar, DMA_DST, dst_iova, 8);
		t_bar_write(dfd, bar, DMA_LEN, PG, 8);
		t_bar_write(dfd, bar, DMA_DOORBELL, 1, 4);
		if (poll(&p, 1, 10000) != 1 ||
		    read((int)fa.out_fault_fd, &rec, sizeof(rec)) !=
			    sizeof(rec) ||
		    rec.addr != dst_iova) {
			w->fail = "fault record";
			break;
		}
		w->faults++;
		if (t_map(ifd, shared_ioas, dst, PG, dst_iova, T_RW)) {
			w->fail = "map on fault";
			break;
		}
		resp = (struct iommu_hwpt_page_response){ .cookie = rec.cookie };
		if (write((int)fa.out_fault_fd, &resp, sizeof(resp)) !=
			    sizeof(resp) ||
		    wait_irq(irq, 10000) ||
		    t_bar_read(dfd, bar, DMA_STATUS, 4) != DMA_ST_DONE) {
			w->fail = "completion";
			break;
		}
		if (memcmp(src, dst, PG)) {
			w->fail = "bytes";
			break;
		}
		if (ioctl(ifd, IOMMU_IOAS_UNMAP, &u) || u.length != PG) {
			w->fail = "unmap";
			break;
		}
		munmap(dst, PG);
		w->ok++;
	}
	t_detach(dfd);
	t_destroy(ifd, hwpt);
	t_destroy(ifd, fa.out_fault_id);
	close((int)fa.out_fault_fd);
	close(irq);
	close(dfd);
	munmap(src, PG);
	return NULL;
}

struct churn {
	atomic_uint rounds;
	atomic_bool ended;
	int err;                /* errno of the step that failed, or 0 */
};

static void *churn_run(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&stop_churn)) {
		struct iommu_ioas_alloc a = { .size = sizeof(a) };
		int fd2 = dup(ifd);

		if (fd2 < 0 || ioctl(fd2, IOMMU_IOAS_ALLOC, &a) ||
		    t_destroy(ifd, a.out_ioas_id)) {
			c->err = errno ? errno : EIO;
			if (fd2 >= 0)
				close(fd2);
			break;
		}
		close(fd2);
		atomic_fetch_add(&c->rounds, 1);
	}
	atomic_store(&c->ended, true);
	return NULL;
}

/*
 * IOMMU_FAULT_QUEUE_ALLOC on one thread while another watches its
 * argument and destroys the queue the moment its id appears there: a
 * queue whose file is (about to be) open is busy, as in the kernel,
 * where the object is found by id only once complete, and the fd is
 * installed last. Destroying it then would leave the program an fd on
 * a queue that is gone.
 */
struct alloc_race {
	struct iommu_fault_alloc fa;
	atomic_int done;
	int destroy_ret, destroy_errno;
};

static void *alloc_race_destroyer(void *arg)
{
	struct alloc_race *r = arg;
	uint32_t id;

	while (!(id = __atomic_load_n(&r->fa.out_fault_id, __ATOMIC_ACQUIRE)) &&
	       !atomic_load(&r->done))
		;
	if (!id)
		return NULL;
	r->destroy_ret = t_destroy(ifd, id);
	r->destroy_errno = errno;
	return NULL;
}

static void check_fault_alloc_vs_destroy(void)
{
	unsigned destroyed = 0, rounds = 0, busy = 0;

	for (unsigned i = 0; i < ALLOC_ROUNDS; i++) {
		struct alloc_race r = { .fa = { .size = sizeof(r.fa) },
					.destroy_ret = 1 };
		pthread_t t;
		int ret;

		pthread_create(&t, NULL, alloc_race_destroyer, &r);
		ret = ioctl(ifd, IOMMU_FAULT_QUEUE_ALLOC, &r.fa);
		atomic_store(&r.done, 1);
		pthread_join(t, NULL);
		if (ret)
			break;
		rounds++;
		if (r.destroy_ret == 0)
			destroyed++;
		else if (r.destroy_errno == EBUSY)
			busy++;
		close((int)r.fa.out_fault_fd);
		if (r.destroy_ret != 0)
			t_destroy(ifd, r.fa.out_fault_id);
	}
	CHECK(rounds == ALLOC_ROUNDS && !destroyed,
	      "threads: a fault queue destroyed by id while its allocation "
	      "was under way, %u times in %u rounds (%u busy)", destroyed,
	      rounds, busy);
}

struct reuse_race {
	atomic_int stop;
	unsigned rounds, wrong;
};

/* Opens /dev/zero and reads it, over and over: each number it gets may
 * be one an iommufd duplicate had a moment ago. */
static void *reuse_reader(void *arg)
{
	struct reuse_race *r = arg;
	uint64_t v;

	while (!atomic_load(&r->stop)) {
		int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);

		v = 1;
		if (fd < 0)
			continue;
		if (read(fd, &v, sizeof(v)) != sizeof(v) || v)
			r->wrong++;
		r->rounds++;
		close(fd);
	}
	return NULL;
}

/*
 * A number the program closes is free for another thread's open at once:
 * what that open gets must be its own file, never the iommufd whose
 * number it was (a read of which fails).
 */
static void check_close_vs_reuse(void)
{
	struct reuse_race r = { .rounds = 0 };
	uint64_t end = t_now_ms() + 1000;
	unsigned closes = 0;
	pthread_t t;

	pthread_create(&t, NULL, reuse_reader, &r);
	while (t_now_ms() < end) {
		for (int i = 0; i < 1000; i++) {
			int fd = dup(ifd);

			if (fd >= 0 && !close(fd))
				closes++;
		}
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	CHECK(r.rounds > 0 && !r.wrong,
	      "threads: %u of %u reads of a reused number went to the "
	      "iommufd closed before (%u closes alongside)", r.wrong, r.rounds,
	      closes);
}

int main(void)
{
	struct worker w[2] = {
		{ .vfio = 0, .base = 0x10000000 },
		{ .vfio = 3, .base = 0x20000000 },
	};
	pthread_t t[3];
	struct churn churn = { .err = 0 };
	uint64_t start, deadline;

	t_program_iopf_only("needs two of iopf's DMA engines (vfio0, vfio3)");

	ifd = t_iommufd_open();
	shared_ioas = t_ioas_alloc(ifd);
	check_fault_alloc_vs_destroy();
	check_close_vs_reuse();
	pthread_create(&t[2], NULL, churn_run, &churn);
	start = t_now_ms();
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker_run, &w[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	/* What a fault resolved by userspace costs here, end to end. */
	printf("# threads: %u faults resolved through fault queues in %llu ms\n",
	       w[0].faults + w[1].faults,
	       (unsigned long long)(t_now_ms() - start));
	/* On a loaded machine the workers may be done before the churn
	 * thread ran at all: give it its first round, not a failure. */
	deadline = t_now_ms() + 10000;
	while (!atomic_load(&churn.rounds) && t_now_ms() < deadline &&
	       !atomic_load(&churn.ended))
		usleep(1000);
	atomic_store(&stop_churn, 1);
	pthread_join(t[2], NULL);
	for (int i = 0; i < 2; i++)
		CHECK(w[i].ok == ROUNDS && !w[i].fail,
		      "threads: vfio%u resolved %u of %u rounds through its "
		      "queue (%u faults)%s%s", w[i].vfio, w[i].ok, ROUNDS,
		      w[i].faults, w[i].fail ? ", failed at " : "",
		      w[i].fail ? w[i].fail : "");
	CHECK(atomic_load(&churn.rounds) > 0 && !churn.err,
	      "threads: %u IOAS alloc/destroy rounds alongside%s%s",
	      atomic_load(&churn.rounds), churn.err ? ", then: " : "",
	      churn.err ? strerror(churn.err) : "");
	CHECK_OK(t_destroy(ifd, shared_ioas), "threads: the shared IOAS is "
		 "free once every HWPT went");
	close(ifd);
	return t_done();
}
