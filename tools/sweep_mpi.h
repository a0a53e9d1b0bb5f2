/* SPDX-License-Identifier: MIT */
/*
 * The MPI side of `iopf sweep`, kept apart so the tool builds without MPI.
 * Without it, a sweep started by mpirun refuses to run rather than letting
 * every rank run every point.
 *
 * Messages (all on MPI_COMM_WORLD, to rank 0): SWEEP_TAG_RESULT carries one
 * point as "<index> <status> <text>"; SWEEP_TAG_DONE says the sender has
 * sent everything it owns. Rank 0 stops waiting when every other rank said
 * DONE, when the wait runs out, or when it is told to stop.
 */
#ifndef IOPF_TOOLS_SWEEP_MPI_H
#define IOPF_TOOLS_SWEEP_MPI_H

#include <signal.h>
#include <stdbool.h>

struct iopf_sweep_results;

/* 1 rank of rank 0 when not under mpirun; -ENOTSUP if MPI is missing. */
int sweep_mpi_init(unsigned *rank, unsigned *nr_ranks);
void sweep_mpi_finalize(void);
/* End every rank of the job with @status (rank 0 refused the run). */
void sweep_mpi_abort(int status);
/* IOPF_SWEEP_LOSE_RANK=r: rank r dies before reporting (tests the loss). */
bool sweep_mpi_lost_by_request(unsigned rank);
int sweep_mpi_send_result(unsigned index, int status, const char *text);
int sweep_mpi_send_done(void);
/* Rank 0: take whatever results have arrived, without waiting. */
void sweep_mpi_poll(struct iopf_sweep_results *res);
/* Rank 0: wait up to @wait_s for every rank's DONE (or *@stop). */
void sweep_mpi_gather(struct iopf_sweep_results *res, unsigned nr_ranks,
		      unsigned wait_s, volatile sig_atomic_t *stop);

#endif
