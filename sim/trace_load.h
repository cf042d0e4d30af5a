/* trace_load.h — reads a Chrome trace-event JSON file back into a struct trace, so that every
 * reader of records (metrics, the window, the PNG renderer) works on saved traces too.
 *
 * Reads timeslice's own files (docs/json.md: thread states, core tracks, prints, marks and
 * otherData) exactly, and any other tool's trace with complete ("X") or begin/end ("B"/"E")
 * events: each slice becomes a stretch of "running" whose reason is the slice's name, the gaps
 * between a thread's slices become "wait" ("no event in the trace"), and the thread is "done"
 * after its last slice. Nested slices are folded into the outermost one. */
#ifndef TIMESLICE_TRACE_LOAD_H
#define TIMESLICE_TRACE_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "trace.h"

/* Loads the file at path. Returns the trace (free with trace_destroy), or NULL with *err
 * filled: file:line:col for JSON syntax errors (a truncated file points at its end), line 0
 * for a file that cannot be read, or JSON that is not a trace (no "traceEvents", an event
 * with a bad field: the message names the event's index). */
struct trace *trace_load_chrome(const char *path, struct diag *err);

/* The same for text already in memory; name is used in diagnostics and as the trace's
 * source when the file does not name one. text need not be NUL-terminated. */
struct trace *trace_load_chrome_text(const char *name, const char *text, size_t len,
				     struct diag *err);

/* True when path names a readable file whose first non-blank byte is '{' or '[': a JSON
 * file rather than a scenario. */
bool trace_load_is_json_file(const char *path);

#endif
