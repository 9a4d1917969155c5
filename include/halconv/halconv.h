// halconv: Keras-exact Conv2D, DepthwiseConv2D and SeparableConv2D, generated at build time by
// Halide.
#pragma once

#include "halconv/activation.h"
#include "halconv/config.h"
#include "halconv/conv2d.h"
#include "halconv/decision.h"
#include "halconv/depthwise.h"
#include "halconv/device.h"
#include "halconv/error.h"
#include "halconv/extension.h"
#include "halconv/io.h"
#include "halconv/layer.h"
#include "halconv/memory.h"
#include "halconv/model.h"
#include "halconv/plan.h"
#include "halconv/variants.h"
#include "halconv/version.h"
