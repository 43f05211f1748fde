// An evaluation data file → the documents it holds (docs/EVALUATION.md, "Data").
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace gptoss {

enum class DocumentFormat {
  wikitext,  // WikiText raw: a document starts at each ` = Title = ` line
  lines,     // one document per non-empty line
  text,      // the whole file is one document, byte for byte
};

// "wikitext" | "lines" | "text"; throws gptoss::Error naming the value.
DocumentFormat parse_document_format(std::string_view name);
std::string_view document_format_name(DocumentFormat format);

// Whether `line` (without its line end) is a WikiText article title: ` = Title = ` with a single
// `=` on each side. Section headings (` = = Section = = `) are not.
bool is_wikitext_title(std::string_view line);

// Splits `text`, the contents of `origin`, into documents. WikiText and line documents have
// CRLF/CR line ends normalised to LF (the original WikiText release uses LF); a WikiText
// document is its title line and every line up to the next title, each ending in LF, and text
// before the first title is a document of its own. Throws gptoss::Error naming `origin` when
// the file is empty, holds no WikiText title in wikitext mode, or no non-empty line in lines mode.
std::vector<std::string> split_documents(std::string_view text, DocumentFormat format, const std::string& origin);

// Reads `path` and splits it as above.
std::vector<std::string> read_documents(const std::filesystem::path& path, DocumentFormat format);

}  // namespace gptoss
