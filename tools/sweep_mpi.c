// SPDX-License-Identifier: MIT
/* `iopf sweep` across MPI ranks; see sweep_mpi.h for the protocol. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "iopf/sweep.h"
#include "sweep_mpi.h"

enum { SWEEP_TAG_RESULT = 1, SWEEP_TAG_DONE = 2 };

static bool sweep_mpi_up;
static unsigned sweep_mpi_done_ranks;

static bool sweep_mpi_launched(void)
{
	return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") ||
	       getenv("PMIX_RANK");
}

int sweep_mpi_init(unsigned *rank, unsigned *nr_ranks)
{
	int r, n;

	*rank = 0;
	*nr_ranks = 1;
	if (!sweep_mpi_launched())
		return 0;
	if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
		return -EIO;
	sweep_mpi_up = true;
	/* A lost peer must come back to us as an error, not end this rank. */
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	MPI_Comm_rank(MPI_COMM_WORLD, &r);
	MPI_Comm_size(MPI_COMM_WORLD, &n);
	*rank = (unsigned)r;
	*nr_ranks = (unsigned)n;
	return 0;
}

void sweep_mpi_finalize(void)
{
	if (sweep_mpi_up)
		MPI_Finalize();
	sweep_mpi_up = false;
}

void sweep_mpi_abort(int status)
{
	if (sweep_mpi_up)
		MPI_Abort(MPI_COMM_WORLD, status);
}

bool sweep_mpi_lost_by_request(unsigned rank)
{
	const char *s = getenv("IOPF_SWEEP_LOSE_RANK");

	return sweep_mpi_up && s && *s && strtoul(s, NULL, 10) == rank && rank;
}

int sweep_mpi_send_result(unsigned index, int status, const char *text)
{
	char *msg;
	int len, ret;

	len = asprintf(&msg, "%u %d %s", index, status, text ? text : "");
	if (len < 0)
		return -ENOMEM;
	ret = MPI_Send(msg, len + 1, MPI_CHAR, 0, SWEEP_TAG_RESULT, MPI_COMM_WORLD);
	free(msg);
	return ret == MPI_SUCCESS ? 0 : -EIO;
}

int sweep_mpi_send_done(void)
{
	int one = 1;

	return MPI_Send(&one, 1, MPI_INT, 0, SWEEP_TAG_DONE, MPI_COMM_WORLD) ==
	       MPI_SUCCESS ? 0 : -EIO;
}

/* Receive one waiting message, if any: true if one was taken. */
static bool sweep_mpi_take_one(struct iopf_sweep_results *res)
{
	MPI_Status st;
	int flag = 0, count;

	if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st) !=
	    MPI_SUCCESS || !flag)
		return false;
	if (st.MPI_TAG == SWEEP_TAG_DONE) {
		int one;

		MPI_Recv(&one, 1, MPI_INT, st.MPI_SOURCE, SWEEP_TAG_DONE,
			 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		sweep_mpi_done_ranks++;
		return true;
	}
	MPI_Get_count(&st, MPI_CHAR, &count);
	{
		char *msg = malloc((size_t)count + 1);
		unsigned index;
		int status, off = 0;

		if (!msg)
			return false;
		MPI_Recv(msg, count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG,
			 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		msg[count] = '\0';
		if (sscanf(msg, "%u %d %n", &index, &status, &off) == 2 && off)
			iopf_sweep_results_set_raw(res, index,
						   (enum iopf_sweep_status)status,
						   msg + off);
		else
			fprintf(stderr, "iopf sweep: rank %d sent a malformed result\n",
				st.MPI_SOURCE);
		free(msg);
	}
	return true;
}

void sweep_mpi_poll(struct iopf_sweep_results *res)
{
	while (sweep_mpi_take_one(res))
		;
}

void sweep_mpi_gather(struct iopf_sweep_results *res, unsigned nr_ranks,
		      unsigned wait_s, volatile sig_atomic_t *stop)
{
	time_t deadline = time(NULL) + wait_s;

	while (sweep_mpi_done_ranks < nr_ranks - 1 && !*stop) {
		if (time(NULL) >= deadline) {
			fprintf(stderr, "iopf sweep: %u of %u ranks never reported within %u s\n",
				nr_ranks - 1 - sweep_mpi_done_ranks, nr_ranks - 1,
				wait_s);
			return;
		}
		if (!sweep_mpi_take_one(res))
			usleep(2000);
	}
}
