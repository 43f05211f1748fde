// libgptoss: run OpenAI gpt-oss models on Linux. Include this for the whole public API.
#pragma once

#include "gptoss/config.h"
#include "gptoss/error.h"
#include "gptoss/harmony.h"
#include "gptoss/model.h"
#include "gptoss/session.h"
#include "gptoss/tokenizer.h"
