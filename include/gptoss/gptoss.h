// libgptoss: run OpenAI gpt-oss models on Linux. Include this for the whole public API.
#pragma once

#include "gptoss/chat.h"
#include "gptoss/config.h"
#include "gptoss/error.h"
#include "gptoss/generate.h"
#include "gptoss/harmony.h"
#include "gptoss/model.h"
#include "gptoss/sampler.h"
#include "gptoss/scheduler.h"
#include "gptoss/session.h"
#include "gptoss/text_stream.h"
#include "gptoss/tokenizer.h"
