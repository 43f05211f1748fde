// gptoss tokenize / detokenize: the model directory's tokenizer.json from the command line.
#include <cstdio>

#include "gptoss/tokenizer.h"
#include "tokenizer/utf8.h"
#include "tools/tool.h"

namespace gptoss::tools {

namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  bool verbose = false;
  bool no_special = false;
};

struct DetokenizeOptions {
  std::string model;
  std::string tokens;
};

// A token's bytes for the terminal: in quotes, with control characters and bytes that are not
// (whole) UTF-8 characters escaped; special tokens as they are.
std::string shown(const Tokenizer& tokenizer, int32_t id) {
  const std::string_view bytes = tokenizer.token_bytes(id);
  if (tokenizer.is_special(id)) return std::string(bytes);
  std::string out = "\"";
  for (size_t i = 0; i < bytes.size();) {
    const Utf8Sequence seq = next_utf8_sequence(bytes.substr(i));
    const auto byte = static_cast<unsigned char>(bytes[i]);
    if (seq.kind == Utf8Sequence::Kind::valid && seq.length > 1) {
      out += bytes.substr(i, seq.length);
      i += seq.length;
      continue;
    }
    if (byte == '"' || byte == '\\') {
      out += '\\';
      out += static_cast<char>(byte);
    } else if (byte == '\n') {
      out += "\\n";
    } else if (byte == '\t') {
      out += "\\t";
    } else if (byte == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte >= 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", byte);
      out += hex;
    } else {
      out += static_cast<char>(byte);
    }
    ++i;
  }
  return out + "\"";
}

void run_tokenize(const TokenizeOptions& o) {
  const Tokenizer tokenizer = Tokenizer::load(o.model);
  const std::vector<int32_t> ids = tokenizer.encode(o.text, !o.no_special);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i > 0 ? "," : "") + std::to_string(ids[i]);
  std::printf("%s\n", line.c_str());
  if (!o.verbose) return;
  for (const int32_t id : ids) std::printf("%8d  %s\n", id, shown(tokenizer, id).c_str());
  std::printf("%zu tokens\n", ids.size());
}

void run_detokenize(const DetokenizeOptions& o) {
  const std::vector<int32_t> ids = parse_token_list(o.tokens);
  const Tokenizer tokenizer = Tokenizer::load(o.model);
  const std::string text = tokenizer.decode(ids);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  cmd->add_option("-m,--model", options->model, "Model directory (its tokenizer.json) or a tokenizer.json")->required();
  cmd->add_option("--text", options->text, "The text to encode")->required();
  cmd->add_flag("-v,--verbose", options->verbose, "Also print each token's bytes");
  cmd->add_flag("--no-special", options->no_special,
                "Encode special-token strings such as <|start|> as plain text");
  cmd->callback([options] { run_tokenize(*options); });
}

void add_detokenize_command(CLI::App& app) {
  auto options = std::make_shared<DetokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("detokenize", "Print the text of token ids (and a newline)");
  cmd->add_option("-m,--model", options->model, "Model directory (its tokenizer.json) or a tokenizer.json")->required();
  cmd->add_option("--tokens", options->tokens, "Comma-separated token ids, e.g. 13225,2375")->required();
  cmd->callback([options] { run_detokenize(*options); });
}

}  // namespace gptoss::tools
