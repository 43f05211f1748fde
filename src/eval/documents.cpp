#include "eval/documents.h"

#include "gptoss/error.h"
#include "io/text_file.h"

namespace gptoss {

namespace {

// The lines of `text` without their line ends (LF, CRLF or a lone CR).
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') continue;
    lines.push_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

bool is_blank(std::string_view text) { return text.find_first_not_of(" \t\r\n") == std::string_view::npos; }

std::vector<std::string> wikitext_documents(std::string_view text, const std::string& origin) {
  std::vector<std::string> documents;
  std::string current;
  bool seen_title = false;
  for (const std::string_view line : split_lines(text)) {
    if (is_wikitext_title(line)) {
      if (!is_blank(current)) documents.push_back(std::move(current));
      current.clear();
      seen_title = true;
    }
    current.append(line);
    current.push_back('\n');
  }
  if (!seen_title)
    throw Error(origin + ": no WikiText title line (' = Title = ') in the file; " +
                "for other data use --format lines or text");
  documents.push_back(std::move(current));
  return documents;
}

std::vector<std::string> line_documents(std::string_view text, const std::string& origin) {
  std::vector<std::string> documents;
  for (const std::string_view line : split_lines(text))
    if (!line.empty()) documents.emplace_back(line);
  if (documents.empty()) throw Error(origin + ": no non-empty line in the file");
  return documents;
}

}  // namespace

DocumentFormat parse_document_format(std::string_view name) {
  if (name == "wikitext") return DocumentFormat::wikitext;
  if (name == "lines") return DocumentFormat::lines;
  if (name == "text") return DocumentFormat::text;
  throw Error("unknown data format '" + std::string(name) + "' (wikitext, lines or text)");
}

std::string_view document_format_name(DocumentFormat format) {
  switch (format) {
    case DocumentFormat::wikitext: return "wikitext";
    case DocumentFormat::lines: return "lines";
    case DocumentFormat::text: return "text";
  }
  return "?";
}

bool is_wikitext_title(std::string_view line) {
  constexpr std::string_view kOpen = " = ", kClose = " = ";
  if (line.size() <= kOpen.size() + kClose.size()) return false;
  if (!line.starts_with(kOpen) || !line.ends_with(kClose)) return false;
  const std::string_view title = line.substr(kOpen.size(), line.size() - kOpen.size() - kClose.size());
  return title.front() != '=' && title.back() != '=';
}

std::vector<std::string> split_documents(std::string_view text, DocumentFormat format, const std::string& origin) {
  if (text.empty()) throw Error(origin + ": the file is empty");
  switch (format) {
    case DocumentFormat::wikitext: return wikitext_documents(text, origin);
    case DocumentFormat::lines: return line_documents(text, origin);
    case DocumentFormat::text: return {std::string(text)};
  }
  return {};
}

std::vector<std::string> read_documents(const std::filesystem::path& path, DocumentFormat format) {
  return split_documents(read_text_file(path, kMaxTextFileBytes, "data file"), format, path.string());
}

}  // namespace gptoss
