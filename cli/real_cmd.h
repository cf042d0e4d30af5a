/* real_cmd.h — the `real` (run a scenario for real on this machine), `compare` (simulated
 * beside real, per metric) and `calibrate` (this machine's costs as a machine profile)
 * commands of `timeslice`. */
#ifndef TIMESLICE_CLI_REAL_CMD_H
#define TIMESLICE_CLI_REAL_CMD_H

/* argv[1] is the command's name; the rest its arguments. Return the exit status. */
int cmd_real(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);

#endif
