/* The nn layer: what it offers the layers above it (io, verify). Models
 * are declared in clrt.h; this header adds what the checkpoint code and the
 * loader-driven evaluation build on. Includes the ops layer only. Not
 * installed. */
#ifndef CLRT_NN_H
#define CLRT_NN_H

#include "ops/ops.h"

/* ------------------------------------------------------------ model.c */

/* The next batch of a source (a loader, in the io layer): *x NULL at the
 * end. The model knows batches, not where they come from. */
typedef clrt_status (*clrt__batch_source)(void *source, const clrt_tensor **x,
                                          const clrt_tensor **labels);

/* Mean cross-entropy loss and accuracy of `m` over every batch `next`
 * gives; the sums stay on the device and are read once at the end. */
clrt_status clrt__model_evaluate_batches(clrt_model *m, clrt__batch_source next, void *source,
                                         double *loss, double *accuracy);

#endif /* CLRT_NN_H */
