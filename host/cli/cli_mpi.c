/*
 * Several ranks (mpirun, srun): the run driver's transport (cf_run_net)
 * over MPI point-to-point messages. MPI is started only when the process
 * was launched by an MPI starter (its environment says so): a plain
 * `cuflow flows ...` never touches MPI. Built only where CMake found MPI
 * (CUFLOW_HAVE_MPI); elsewhere every call says "one process".
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

#ifdef CUFLOW_HAVE_MPI
#include <mpi.h>

#define NET_TAG 4242

static int started, rank, size;
static cf_run_net net;

static int mpi_send(void *user, int to, const void *buf, size_t n)
{
	(void)user;
	if (n > INT_MAX)
		return CF_ERR_ARG;
	return MPI_Send(buf, (int)n, MPI_BYTE, to, NET_TAG, MPI_COMM_WORLD) == MPI_SUCCESS ? CF_OK : CF_ERR_IO;
}

static int mpi_recv(void *user, int from, void **buf, size_t *n)
{
	(void)user;
	MPI_Status st;
	int count = 0;
	if (MPI_Probe(from, NET_TAG, MPI_COMM_WORLD, &st) != MPI_SUCCESS ||
	    MPI_Get_count(&st, MPI_BYTE, &count) != MPI_SUCCESS || count < 0)
		return CF_ERR_IO;
	void *b = malloc(count ? (size_t)count : 1);
	if (!b)
		return CF_ERR_NOMEM;
	if (MPI_Recv(b, count, MPI_BYTE, from, NET_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
		free(b);
		return CF_ERR_IO;
	}
	*buf = b;
	*n = (size_t)count;
	return CF_OK;
}

/* Open MPI (mpirun, or srun through PMIx), MPICH and Slurm's PMI-2 set
 * one of these in every rank's environment. */
static int launched_by_mpi(void)
{
	static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		if (getenv(vars[i]))
			return 1;
	return 0;
}

void cli_mpi_start(int *argc, char ***argv)
{
	if (!launched_by_mpi() || getenv("CUFLOW_NO_MPI"))
		return;
	int provided = 0;
	/* only the thread that calls cf_run sends and receives */
	if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
		return;
	started = 1;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	net = (cf_run_net){rank, size, mpi_send, mpi_recv, NULL};
}

const cf_run_net *cli_mpi_net(void)
{
	return started && size > 1 ? &net : NULL;
}

int cli_mpi_end(int rc)
{
	if (!started)
		return rc;
	if (rc == CLI_EXIT_USAGE && size > 1) {
		/* a rank that failed cannot let the others wait for it */
		fprintf(stderr, "cuflow: rank %d of %d failed: stopping every rank\n", rank, size);
		MPI_Abort(MPI_COMM_WORLD, rc);
	}
	MPI_Finalize();
	return rc;
}

#else

void cli_mpi_start(int *argc, char ***argv)
{
	(void)argc, (void)argv;
}

const cf_run_net *cli_mpi_net(void)
{
	return NULL;
}

int cli_mpi_end(int rc)
{
	return rc;
}

#endif

int cli_mpi_rank(void)
{
	const cf_run_net *n = cli_mpi_net();
	return n ? n->rank : 0;
}
