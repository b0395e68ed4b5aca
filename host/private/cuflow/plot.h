/*
 * Small PNG charts for the model commands (libpng): learning curves of a
 * training run and a confusion matrix. Text is drawn with a built-in 5x7
 * bitmap font (printable ASCII; other bytes show as '?'), so the charts
 * need nothing but libpng. Every writer writes PATH.tmp and renames it
 * over PATH, so a reader never sees half an image.
 */
#ifndef CUFLOW_PLOT_H
#define CUFLOW_PLOT_H

#include <stdint.h>

#include "cuflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Line chart, 800x500: n_series series of n_points values each (NaN or
 * an infinity = no point; a line breaks there), x = 1..n_points (epochs).
 * Axes with numeric tick labels, a title and xlabel (NULL or "" = none),
 * a legend with the series names (NULL or a NULL name = "series N") and
 * a distinct colour per series (cf_plot_series_color). CF_ERR_ARG for no
 * series or no points, CF_ERR_IO / CF_ERR_NOMEM otherwise on failure. */
int cf_plot_lines_png(const char *path, const char *title, const char *xlabel, int n_series, const char *const *names,
                      const double *const *values, int n_points, char *errbuf);

/* The same chart over time: point k is at time x_ns[k] (ascending, one
 * point per window); the x axis is labelled with UTC times of day
 * (HH:MM:SS, tenths for sub-second spacing, MM-DD HH:MM when the points
 * span a day or more). */
int cf_plot_series_png(const char *path, const char *title, const char *xlabel, int n_series,
                       const char *const *names, const double *const *values, int n_points, const int64_t *x_ns,
                       char *errbuf);

/* Confusion matrix heatmap: C x C counts, row-major (row = true class,
 * column = predicted). Cells are shaded by the row-normalised value
 * (cf_plot_shade; a row without samples stays at 0), the count is written
 * in each cell when it fits (compacted to k/M/G when only that fits),
 * class names label both axes (truncated to fit; NULL = the class index).
 * The image grows with C; beyond CF_PLOT_MAX_CLASSES the last drawn class
 * is "other", the sum of the remaining classes. CF_ERR_ARG for C < 1. */
#define CF_PLOT_MAX_CLASSES 60
int cf_plot_confusion_png(const char *path, const char *title, int C, const char *const *class_names,
                          const uint64_t *counts, char *errbuf);

/* The colour of series i in cf_plot_lines_png (a 10-colour palette,
 * repeating). */
void cf_plot_series_color(int i, uint8_t rgb[3]);
/* The shade of a confusion-matrix cell with row-normalised value v
 * (clamped to [0, 1]): 0 is the lightest, 1 the darkest. */
void cf_plot_shade(double v, uint8_t rgb[3]);

/* Writes a w x h 8-bit RGB image (rows top to bottom, 3 bytes a pixel)
 * as PATH.tmp, then renames it to PATH. Errors name the path. */
int cf_plot_write_rgb_png(const char *path, const uint8_t *rgb, int w, int h, char *errbuf);

#ifdef __cplusplus
}
#endif

#endif
