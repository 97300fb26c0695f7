/* The io layer: data sets (IDX, CSV), the device loader, safetensors files
 * and checkpoints. The public API is in clrt.h; this header is what the
 * io files share and what the layers above (verify, the tools' tests) may
 * use. Includes the nn layer only. Not installed. */
#ifndef CLRT_IO_H
#define CLRT_IO_H

#include "nn/nn.h"

#endif /* CLRT_IO_H */
