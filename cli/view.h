/* view.h — the `view` (window) and `render` (PNG) commands of `timeslice`. */
#ifndef TIMESLICE_CLI_VIEW_H
#define TIMESLICE_CLI_VIEW_H

/* argv[1] is the command's name; the rest its arguments. Return the exit status. */
int cmd_view(int argc, char **argv);
int cmd_render(int argc, char **argv);

#endif
