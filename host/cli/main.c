/* cuflow: entry point, dispatch to subcommands. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "cuflow/cuflow.h"
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
		"cuflow %s: packet captures to flows, features and training tensors\n"
		"\n"
		"usage: cuflow COMMAND [options]\n"
		"\n"
		"commands:\n"
		"  info [--json] CAPTURE...    formats, packets, bytes, protocols, skip counters\n"
		"  flows CAPTURE... -o OUT.csv one row of statistics per bidirectional flow\n"
		"  extract CAPTURE... -o DIR   per-flow features, sequences, labels as numpy arrays\n"
		"  netml --type T CAPTURE -o DIR  netml 0.7.1's feature matrices, bit for bit\n"
		"  flowpic CAPTURE... -o DIR   FlowPic images (official or mini presets) as numpy arrays\n"
		"  windows CAPTURE... -o OUT   per-window aggregates for port-scan and DoS detection\n"
		"  sessions CAPTURE... -o DB.sqlite  one-direction sessions, devices, DNS into SQLite\n"
		"  dataset DB.sqlite -o DIR    seed 002's training set (scaled, category maps, splits)\n"
		"  train --model nested DATA... -o MODEL_DIR   train seed 003's nested LSTM model on flows\n"
		"  evaluate MODEL_DIR DATA... -o DIR  accuracy, per-class F1, confusion matrix\n"
		"  predict MODEL_DIR INPUT... -o OUT  class probabilities per flow (captures or Joy records)\n"
		"  synth -o FILE [options]     write a synthetic capture (tests, demos, benchmarks)\n"
		"  version                     print the version\n"
		"\n"
		"Run 'cuflow COMMAND --help' for the options of a command.\n",
		cf_version());
}

static int dispatch(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "flows"))
		return cmd_flows(argc - 1, argv + 1);
	if (!strcmp(cmd, "extract"))
		return cmd_extract(argc - 1, argv + 1);
	if (!strcmp(cmd, "flowpic"))
		return cmd_flowpic(argc - 1, argv + 1);
	if (!strcmp(cmd, "windows"))
		return cmd_windows(argc - 1, argv + 1);
	if (!strcmp(cmd, "sessions"))
		return cmd_sessions(argc - 1, argv + 1);
	if (!strcmp(cmd, "dataset"))
		return cmd_dataset(argc - 1, argv + 1);
	if (!strcmp(cmd, "netml"))
		return cmd_netml(argc - 1, argv + 1);
	if (!strcmp(cmd, "train"))
		return cmd_train(argc - 1, argv + 1);
	if (!strcmp(cmd, "evaluate"))
		return cmd_evaluate(argc - 1, argv + 1);
	if (!strcmp(cmd, "predict"))
		return cmd_predict(argc - 1, argv + 1);
	if (!strcmp(cmd, "synth"))
		return cmd_synth(argc - 1, argv + 1);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("cuflow %s\n", cf_version());
		return CLI_EXIT_OK;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	fprintf(stderr, "cuflow: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	/* Buffers of a few MB (a reader's per file, a worker's chunks) come from
	 * the heap and stay there between files: glibc's defaults mmap and
	 * unmap them (and trim the heap) once per file, which on thousands of
	 * small captures was thousands of page faults and, with --jobs, TLB
	 * shootdowns between the workers' cores. */
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	cli_mpi_start(&argc, &argv);
	if (cli_mpi_net() && argc >= 2) {
		/* the commands that split their inputs over ranks; any other would
		 * run once per rank, every rank writing the same files */
		static const char *const ranked[] = {"flows", "sessions", "extract", "netml", "flowpic", "windows"};
		int ok = 0;
		for (size_t i = 0; i < sizeof ranked / sizeof ranked[0]; i++)
			ok |= !strcmp(argv[1], ranked[i]);
		if (!ok) {
			if (cli_mpi_rank() == 0)
				fprintf(stderr, "cuflow %s does not run over several MPI ranks (flows, sessions, extract, netml, "
				                "flowpic and windows do)\n", argv[1]);
			return cli_mpi_end(CLI_EXIT_USAGE);
		}
	}
	return cli_mpi_end(dispatch(argc, argv));
}
