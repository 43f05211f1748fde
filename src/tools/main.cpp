// gptoss: the command-line program. Errors print as one line on stderr and exit with 1.
#include <cstdio>
#include <exception>

#include "gptoss/error.h"
#include "tools/tool.h"

int main(int argc, char** argv) {
  CLI::App app{"gptoss: run OpenAI gpt-oss models (Hugging Face and MLX checkpoints) on Linux"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "gptoss 0.1.0");
  gptoss::tools::add_bench_command(app);
  gptoss::tools::add_chat_command(app);
  gptoss::tools::add_convert_command(app);
  gptoss::tools::add_generate_command(app);
  gptoss::tools::add_info_command(app);
  gptoss::tools::add_logits_command(app);
  gptoss::tools::add_perplexity_command(app);
  gptoss::tools::add_serve_command(app);
  gptoss::tools::add_synth_command(app);
  gptoss::tools::add_tokenize_command(app);
  gptoss::tools::add_detokenize_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);  // --help and --version print as CLI11 formats them and exit 0
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit codes (104-114) would tell scripts nothing the message does not.
    std::fprintf(stderr, "gptoss: error: %s\n", e.what());
    return 1;
  } catch (const gptoss::Interrupted&) {
    std::fprintf(stderr, "\ngptoss: interrupted\n");
    return 130;  // as a shell reports a command ended by SIGINT
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gptoss: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
