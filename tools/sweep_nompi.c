// SPDX-License-Identifier: MIT
/* `iopf sweep` built without MPI: one rank, and a refusal under mpirun. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "sweep_mpi.h"

int sweep_mpi_init(unsigned *rank, unsigned *nr_ranks)
{
	const char *n = getenv("OMPI_COMM_WORLD_SIZE");

	*rank = 0;
	*nr_ranks = 1;
	if (n && atoi(n) > 1) {
		fprintf(stderr, "iopf sweep: started by mpirun, but this iopf was "
				"built without MPI (install libopenmpi-dev and rebuild)\n");
		return -ENOTSUP;
	}
	return 0;
}

void sweep_mpi_finalize(void) { }
void sweep_mpi_abort(int status) { (void)status; }
bool sweep_mpi_lost_by_request(unsigned rank) { (void)rank; return false; }
int sweep_mpi_send_result(unsigned index, int status, const char *text)
{
	(void)index; (void)status; (void)text;
	return -ENOTSUP;
}
int sweep_mpi_send_done(void) { return -ENOTSUP; }
void sweep_mpi_poll(struct iopf_sweep_results *res) { (void)res; }
void sweep_mpi_gather(struct iopf_sweep_results *res, unsigned nr_ranks,
		      unsigned wait_s, volatile sig_atomic_t *stop)
{
	(void)res; (void)nr_ranks; (void)wait_s; (void)stop;
}
