#include "server/ids.h"

#include <random>

namespace gptoss::server {

std::string random_id(std::string_view prefix, int length) {
  static constexpr std::string_view kAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  // One generator per thread, seeded from the operating system: no lock, and threads started
  // together still draw different ids.
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::string id(prefix);
  for (int i = 0; i < length; ++i) id += kAlphabet[pick(generator)];
  return id;
}

}  // namespace gptoss::server
