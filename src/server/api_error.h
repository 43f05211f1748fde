// An error the OpenAI API reports to the client: an HTTP status and the body
// {"error": {"message", "type", "param", "code"}} (OpenAI's error object).
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace gptoss::server {

class ApiError : public std::runtime_error {
 public:
  // `type` as OpenAI names them: "invalid_request_error" (400, 404, 413, 422), "authentication_error"
  // (401), "rate_limit_error" (429), "server_error" (500). `param`: the request field at fault
  // ("messages[2].content"), empty when none. `code`: a short machine-readable reason, may be empty.
  ApiError(int status, std::string message, std::string param = {}, std::string code = {},
           std::string type = {});

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  nlohmann::json body() const;  // {"error": {...}}, param and code null when empty

 private:
  int status_;
  std::string type_, param_, code_;
};

// 400 invalid_request_error naming `param`.
inline ApiError bad_request(std::string message, std::string param = {}, std::string code = {}) {
  return ApiError(400, std::move(message), std::move(param), std::move(code));
}

}  // namespace gptoss::server
