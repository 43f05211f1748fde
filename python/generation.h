// One generation as a Python iterator: stream_generate's responses, token by token.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gptoss/generate.h"
#include "gptoss/scheduler.h"
#include "gptoss/text_stream.h"

namespace gptoss::python {

// What stream_generate yields for each token, with mlx_lm's GenerationResponse fields.
struct GenerationResponse {
  std::string text;     // the text this token adds (empty for harmony header tokens)
  std::string channel;  // its harmony channel ("analysis", "final", …); "" for plain text
  int32_t token = 0;
  int prompt_tokens = 0;
  double prompt_tps = 0;
  int generation_tokens = 0;
  double generation_tps = 0;
  double peak_memory = 0;  // GB
  std::optional<std::string> finish_reason;  // on the last response: "stop", "length", "context_full"
};

// One generation through a scheduler; generations of one model share its scheduler, so threads
// generating at once are batched together. Not for use by two threads at once (the module's
// iterator serialises its calls).
class Generation {
 public:
  // A prompt ending with `<|start|>assistant` is a harmony completion: its output is parsed
  // into channels; anything else streams as plain text.
  Generation(std::shared_ptr<Scheduler> scheduler, const Tokenizer& tokenizer, std::vector<int32_t> prompt,
             const GenerationOptions& options);
  std::optional<GenerationResponse> next();  // nothing once finished
  bool harmony() const { return harmony_; }

 private:
  const Tokenizer& tokenizer_;
  std::vector<int32_t> prompt_;
  bool harmony_;
  std::shared_ptr<Scheduler> scheduler_;
  std::unique_ptr<Generator> generator_;
  std::unique_ptr<TextStream> stream_;
  bool started_ = false;
  bool done_ = false;
};

}  // namespace gptoss::python
