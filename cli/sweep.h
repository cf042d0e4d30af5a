/* sweep.h — `timeslice sweep`: one scenario under every combination of machine settings,
 * run in parallel (a child process per combination), compared in one table. */
#ifndef TIMESLICE_CLI_SWEEP_H
#define TIMESLICE_CLI_SWEEP_H

/* `timeslice sweep SCENARIO --cores 1,2,4 --policy rr,fair ... [--csv|--json] [--jobs N]`:
 * argv as main() got it (argv[1] is "sweep"). Returns the exit status: 0 when every run
 * completed, 1 when a run failed or ended badly, 2 on bad usage (nothing is run then). */
int cmd_sweep(int argc, char **argv);

#endif
