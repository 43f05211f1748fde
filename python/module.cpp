// The `gptoss` Python module: the mlx_lm API (load, generate, stream_generate, make_sampler,
// tokenizer.apply_chat_template) over gptoss.cpp. Model work runs without the GIL, and a model
// may be used from many Python threads at once: their generations share the model's scheduler,
// which batches them into the same forward passes.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <mutex>

#include "chat_template.h"
#include "generation.h"
#include "gptoss/gptoss.h"
#include "gptoss/hub.h"

namespace py = pybind11;
using namespace gptoss;

namespace {

// Keeps the model alive for as long as the tokenizer or a generation refers to it.
struct PyModel {
  std::shared_ptr<Model> model;
  std::shared_ptr<Scheduler> scheduler;  // every generation's, except those with a max_kv_size
};
struct PyTokenizer {
  std::shared_ptr<Tokenizer> tokenizer;
};

std::string type_name(const py::handle& value) { return Py_TYPE(value.ptr())->tp_name; }

// pybind11's casts wrap or clamp what does not fit (a seed of -1 or 2**64, a token id of
// 2**32, a bias of 1e39 that becomes inf): out-of-range numbers raise ValueError instead.
uint64_t seed_from(const py::handle& value) {
  if (!py::isinstance<py::int_>(value) || py::isinstance<py::bool_>(value))
    throw py::type_error("seed must be an int, not " + type_name(value));
  const unsigned long long seed = PyLong_AsUnsignedLongLong(value.ptr());
  if (PyErr_Occurred() != nullptr) {
    PyErr_Clear();
    throw py::value_error("seed " + py::repr(value).cast<std::string>() + " is outside 0 to 2**64 - 1");
  }
  return seed;
}

std::vector<std::pair<int32_t, float>> logit_bias_from(const py::handle& value) {
  if (!py::isinstance<py::dict>(value)) throw py::type_error("logit_bias must be a dict {id: bias}, not " + type_name(value));
  std::vector<std::pair<int32_t, float>> biases;
  for (const auto& [key, bias] : py::reinterpret_borrow<py::dict>(value)) {
    const std::string entry = "logit_bias[" + py::repr(key).cast<std::string>() + "]";
    if (!py::isinstance<py::int_>(key)) throw py::type_error(entry + ": the token id must be an int, not " + type_name(key));
    int overflow = 0;
    const long long id = PyLong_AsLongLongAndOverflow(key.ptr(), &overflow);
    if (overflow != 0 || id < 0 || id > std::numeric_limits<int32_t>::max())
      throw py::value_error(entry + ": the token id is outside 0 to 2**31 - 1");
    const double b = PyFloat_AsDouble(bias.ptr());  // TypeError for a non-number, OverflowError for a huge int
    if (b == -1.0 && PyErr_Occurred() != nullptr) throw py::error_already_set();
    if (!std::isfinite(b) || std::abs(b) > static_cast<double>(std::numeric_limits<float>::max()))
      throw py::value_error(entry + ": the bias " + py::repr(bias).cast<std::string>() + " is not a finite float");
    biases.emplace_back(static_cast<int32_t>(id), static_cast<float>(b));
  }
  return biases;
}

std::vector<int32_t> prompt_ids(const PyTokenizer& t, const py::object& prompt) {
  if (py::isinstance<py::str>(prompt)) return t.tokenizer->encode(prompt.cast<std::string>(), true);
  return prompt.cast<std::vector<int32_t>>();
}

GenerationOptions options_from(int max_tokens, const py::object& sampler, const py::kwargs& kwargs) {
  GenerationOptions o;
  o.max_tokens = max_tokens;
  if (!sampler.is_none()) o.sampler = sampler.cast<SamplerOptions>();
  for (const auto& [key, value] : kwargs) {
    const std::string k = py::str(key);
    if (k == "temp") o.sampler.temperature = value.cast<float>();
    else if (k == "top_p") o.sampler.top_p = value.cast<float>();
    else if (k == "min_p") o.sampler.min_p = value.cast<float>();
    else if (k == "top_k") o.sampler.top_k = value.cast<int>();
    else if (k == "seed") o.sampler.seed = value.is_none() ? std::nullopt : std::optional(seed_from(value));
    else if (k == "repetition_penalty") o.sampler.repetition_penalty = value.is_none() ? 0.f : value.cast<float>();
    else if (k == "repetition_context_size") o.sampler.repetition_context_size = value.cast<int>();
    else if (k == "presence_penalty") o.sampler.presence_penalty = value.cast<float>();
    else if (k == "frequency_penalty") o.sampler.frequency_penalty = value.cast<float>();
    else if (k == "logit_bias") {
      if (!value.is_none()) o.sampler.logit_bias = logit_bias_from(value);
    } else if (k == "prefill_step_size") o.prefill_step_size = value.cast<int>();
    else throw py::type_error("unexpected keyword argument '" + k + "'");
  }
  return o;
}

// Ctrl-C while the model computes: checked between layers (the GIL taken for a moment). Only
// the main thread sees signals, as always in Python.
bool python_interrupt_pending() {
  py::gil_scoped_acquire gil;
  return PyErr_CheckSignals() != 0;
}

struct PyGeneration {
  std::shared_ptr<Model> model;          // kept alive
  std::shared_ptr<Tokenizer> tokenizer;  // kept alive
  std::unique_ptr<python::Generation> generation;
  std::shared_ptr<std::mutex> turn = std::make_shared<std::mutex>();  // one __next__ at a time

  std::optional<python::GenerationResponse> next() {
    try {
      py::gil_scoped_release release;
      std::lock_guard lock(*turn);
      return generation->next();
    } catch (const Interrupted&) {
      if (PyErr_Occurred() != nullptr) throw py::error_already_set();  // the KeyboardInterrupt
      throw;
    }
  }
};

PyGeneration start(const PyModel& m, const PyTokenizer& t, const py::object& prompt, int max_tokens,
                   const py::object& max_kv_size, const py::object& sampler, const py::kwargs& kwargs) {
  PyGeneration g{m.model, t.tokenizer, nullptr};
  std::shared_ptr<Scheduler> scheduler = m.scheduler;
  if (!max_kv_size.is_none()) {
    const int bound = max_kv_size.cast<int>();
    if (bound <= 0) throw py::value_error("max_kv_size must be positive");
    py::gil_scoped_release release;
    scheduler = std::make_shared<Scheduler>(
        *m.model, SchedulerOptions{.max_running = 1, .max_kv_size = bound, .should_stop = python_interrupt_pending});
  }
  g.generation = std::make_unique<python::Generation>(std::move(scheduler), *t.tokenizer, prompt_ids(t, prompt),
                                                      options_from(max_tokens, sampler, kwargs));
  return g;
}

}  // namespace

PYBIND11_MODULE(gptoss, m) {
  m.doc() = "gptoss.cpp: run OpenAI gpt-oss models (Hugging Face and MLX checkpoints), with mlx_lm's API";
  py::register_exception<Error>(m, "Error", PyExc_RuntimeError);

  py::class_<PyModel>(m, "Model")
      .def_property_readonly("num_layers", [](const PyModel& self) { return self.model->config().num_layers; })
      .def_property_readonly("vocab_size", [](const PyModel& self) { return self.model->config().vocab_size; })
      .def_property_readonly("device", [](const PyModel& self) { return self.model->device(); })
      .def("__repr__", [](const PyModel& self) {
        return "<gptoss.Model " + self.model->directory().string() + ": " + self.model->describe().checkpoint_format + ">";
      });

  py::class_<PyTokenizer>(m, "Tokenizer")
      .def("encode", [](const PyTokenizer& self, const std::string& text, bool allow_special) {
             return self.tokenizer->encode(text, allow_special);
           }, py::arg("text"), py::arg("allow_special") = true)
      .def("decode", [](const PyTokenizer& self, const std::vector<int32_t>& ids) {
             const std::string bytes = self.tokenizer->decode(ids);
             return py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), "replace"));
           }, py::arg("ids"))
      .def_property_readonly("vocab_size", [](const PyTokenizer& self) { return self.tokenizer->vocab_size(); })
      .def_property_readonly("eos_token_ids", [](const PyTokenizer& self) { return harmony::stop_tokens(*self.tokenizer); })
      .def("apply_chat_template",
           [](const PyTokenizer& self, const py::list& messages, bool add_generation_prompt, bool tokenize,
              const py::object& tools, const std::string& reasoning_effort, const py::object& model_identity,
              const py::object& date) -> py::object {
             const harmony::Conversation c =
                 python::conversation_from_messages(messages, tools, reasoning_effort, model_identity, date);
             if (tokenize)
               return py::cast(add_generation_prompt ? harmony::render_for_completion(*self.tokenizer, c)
                                                     : harmony::render(*self.tokenizer, c));
             return py::cast(add_generation_prompt ? harmony::render_text_for_completion(c) : harmony::render_text(c));
           },
           py::arg("messages"), py::arg("add_generation_prompt") = false, py::arg("tokenize") = true,
           py::arg("tools") = py::none(), py::arg("reasoning_effort") = "medium", py::arg("model_identity") = py::none(),
           py::arg("date") = py::none(),
           "Renders messages ({'role', 'content', 'thinking', 'tool_calls', 'name'} dicts) in harmony format, "
           "like Hugging Face's apply_chat_template for gpt-oss; token ids unless tokenize=False.");

  m.def("load", [](const std::string& path_or_repo, int threads, const std::string& device, const std::string& kv_dtype,
                   int max_running, const std::string& precision) {
          std::filesystem::path dir;
          {
            py::gil_scoped_release release;
            dir = resolve_model(path_or_repo, {});
          }
          PyModel model;
          PyTokenizer tokenizer;
          {
            py::gil_scoped_release release;
            model.model = Model::load(dir, {.device = device, .threads = threads, .precision = precision});
            tokenizer.tokenizer = std::make_shared<Tokenizer>(Tokenizer::load(dir));
            SchedulerOptions options;
            options.max_running = max_running;
            options.kv.precision = parse_kv_precision(kv_dtype);
            options.should_stop = python_interrupt_pending;
            model.scheduler = std::make_shared<Scheduler>(*model.model, options);
          }
          return py::make_tuple(model, tokenizer);
        },
        py::arg("path_or_hf_repo"), py::arg("threads") = 0, py::arg("device") = "auto", py::arg("kv_dtype") = "bf16",
        py::arg("max_running") = 16, py::arg("precision") = "auto",
        "Loads a model directory or Hugging Face repo id (from the local cache, downloading if needed): "
        "returns (model, tokenizer). device: 'cpu', 'cuda' or 'auto'; kv_dtype: 'bf16' or 'f32' (exact); "
        "max_running: generations from different threads batched together; precision: 'auto', 'f32' (exact) or "
        "'bf16' (faster, not exact; see LoadOptions).");

  py::class_<SamplerOptions>(m, "Sampler")
      .def_readwrite("temp", &SamplerOptions::temperature)
      .def_readwrite("top_p", &SamplerOptions::top_p)
      .def_readwrite("min_p", &SamplerOptions::min_p)
      .def_readwrite("top_k", &SamplerOptions::top_k)
      .def_readwrite("seed", &SamplerOptions::seed);
  m.def("make_sampler", [](float temp, float top_p, float min_p, int min_tokens_to_keep, int top_k,
                           const py::object& seed) {
          SamplerOptions s;
          s.temperature = temp;
          s.top_p = top_p;
          s.min_p = min_p;
          s.min_tokens_to_keep = min_tokens_to_keep;
          s.top_k = top_k;
          if (!seed.is_none()) s.seed = seed_from(seed);
          return s;
        },
        py::arg("temp") = 0.0f, py::arg("top_p") = 0.0f, py::arg("min_p") = 0.0f, py::arg("min_tokens_to_keep") = 1,
        py::arg("top_k") = 0, py::arg("seed") = py::none(), "Sampling settings, as mlx_lm.sample_utils.make_sampler.");

  py::class_<python::GenerationResponse>(m, "GenerationResponse")
      .def_readonly("text", &python::GenerationResponse::text)
      .def_readonly("channel", &python::GenerationResponse::channel)
      .def_readonly("token", &python::GenerationResponse::token)
      .def_readonly("prompt_tokens", &python::GenerationResponse::prompt_tokens)
      .def_readonly("prompt_tps", &python::GenerationResponse::prompt_tps)
      .def_readonly("generation_tokens", &python::GenerationResponse::generation_tokens)
      .def_readonly("generation_tps", &python::GenerationResponse::generation_tps)
      .def_readonly("peak_memory", &python::GenerationResponse::peak_memory)
      .def_readonly("finish_reason", &python::GenerationResponse::finish_reason);

  py::class_<PyGeneration>(m, "_Generation")
      .def("__iter__", [](PyGeneration& self) -> PyGeneration& { return self; })
      .def("__next__", [](PyGeneration& self) {
        std::optional<python::GenerationResponse> r = self.next();
        if (!r) throw py::stop_iteration();
        return *r;
      });

  m.def("stream_generate", &start, py::arg("model"), py::arg("tokenizer"), py::arg("prompt"), py::arg("max_tokens") = 256,
        py::arg("max_kv_size") = py::none(), py::arg("sampler") = py::none(),
        "Yields a GenerationResponse per generated token (text deltas; a harmony prompt's output by channel).");

  m.def("generate",
        [](const PyModel& model, const PyTokenizer& tokenizer, const py::object& prompt, bool verbose, int max_tokens,
           const py::object& max_kv_size, const py::object& sampler, const py::kwargs& kwargs) {
          PyGeneration g = start(model, tokenizer, prompt, max_tokens, max_kv_size, sampler, kwargs);
          std::string text;
          python::GenerationResponse last;
          if (verbose) py::print("==========");
          for (;;) {
            std::optional<python::GenerationResponse> r = g.next();
            if (!r) break;
            // A harmony completion answers on the final channel; plain text counts whole.
            if (r->channel.empty() || r->channel == "final") {
              text += r->text;
              if (verbose) py::print(r->text, py::arg("end") = "", py::arg("flush") = true);
            }
            last = *r;
            if (PyErr_CheckSignals() != 0) throw py::error_already_set();
          }
          if (verbose) {
            py::print();
            py::print("==========");
            char line[128];
            std::snprintf(line, sizeof line, "Prompt: %d tokens, %.3f tokens-per-sec", last.prompt_tokens, last.prompt_tps);
            py::print(line);
            std::snprintf(line, sizeof line, "Generation: %d tokens, %.3f tokens-per-sec", last.generation_tokens,
                          last.generation_tps);
            py::print(line);
            std::snprintf(line, sizeof line, "Peak memory: %.3f GB", last.peak_memory);
            py::print(line);
          }
          return text;
        },
        py::arg("model"), py::arg("tokenizer"), py::arg("prompt"), py::arg("verbose") = false, py::arg("max_tokens") = 256,
        py::arg("max_kv_size") = py::none(), py::arg("sampler") = py::none(),
        "Generates and returns the text (a harmony prompt's final-channel answer). Keyword arguments: temp, top_p, "
        "min_p, top_k, seed, repetition_penalty, repetition_context_size, presence_penalty, frequency_penalty, "
        "logit_bias ({id: bias}), prefill_step_size.");
}
