// Splitting evaluation data into documents: WikiText titles (not section headings), CRLF line
// ends, the other formats, and the errors for files that hold nothing to evaluate.
#include "eval/documents.h"

#include <gtest/gtest.h>

#include "gptoss/error.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

using Docs = std::vector<std::string>;

TEST(Documents, WikitextTitlesStartDocumentsAndSectionHeadingsDoNot) {
  const std::string text =
      " = Alpha = \r\n Alpha is a letter . \r\n = = History = = \r\n It is old . \r\n = = = Details = = = \r\n"
      " = Beta = \r\n Beta follows .\r\n";
  EXPECT_EQ(split_documents(text, DocumentFormat::wikitext, "f"),
            (Docs{" = Alpha = \n Alpha is a letter . \n = = History = = \n It is old . \n = = = Details = = = \n",
                  " = Beta = \n Beta follows .\n"}));
}

TEST(Documents, TextBeforeTheFirstTitleIsADocumentUnlessBlank) {
  EXPECT_EQ(split_documents("preface\n = A = \na", DocumentFormat::wikitext, "f"), (Docs{"preface\n", " = A = \na\n"}));
  EXPECT_EQ(split_documents(" \n\n = A = \na\n", DocumentFormat::wikitext, "f"), (Docs{" = A = \na\n"}));
}

TEST(Documents, TitleLines) {
  EXPECT_TRUE(is_wikitext_title(" = Robert Boulter = "));
  EXPECT_TRUE(is_wikitext_title(" = Kiss You ( One Direction song ) = "));
  EXPECT_FALSE(is_wikitext_title(" = = Career = = "));
  EXPECT_FALSE(is_wikitext_title(" = = = 2000 – 2005 = = = "));
  EXPECT_FALSE(is_wikitext_title(" = National record "));  // a table legend in the test split
  EXPECT_FALSE(is_wikitext_title(" =  = "));
  EXPECT_FALSE(is_wikitext_title("= Title ="));
  EXPECT_FALSE(is_wikitext_title(" = Title = \r"));  // line ends are removed before the test
}

TEST(Documents, TheWikiText2TestSplitHasSixtyTwoDocuments) {
  const Docs docs = read_documents(test::test_data_dir() / "wikitext-2-raw" / "wiki.test.raw", DocumentFormat::wikitext);
  // 60 articles; two formula lines of "Constant k filter" have the title form as well.
  ASSERT_EQ(docs.size(), 62u);
  EXPECT_EQ(docs.front().rfind(" = Robert Boulter = \n Robert Boulter is an English film", 0), 0u);
  EXPECT_EQ(docs.back().rfind(" = The Hustler ( film ) = \n", 0), 0u);
  size_t bytes = 0;
  for (const auto& d : docs) {
    EXPECT_EQ(d.find('\r'), std::string::npos);
    EXPECT_EQ(d.back(), '\n');
    bytes += d.size();
  }
  EXPECT_EQ(bytes, 1'290'547u - 2'891u);  // every CRLF became LF
}

TEST(Documents, LinesAndText) {
  EXPECT_EQ(split_documents("one\r\n\r\ntwo\rthree\n\n", DocumentFormat::lines, "f"), (Docs{"one", "two", "three"}));
  EXPECT_EQ(split_documents("a\r\nb\r\n", DocumentFormat::text, "f"), (Docs{"a\r\nb\r\n"}));
}

TEST(Documents, Formats) {
  EXPECT_EQ(parse_document_format("wikitext"), DocumentFormat::wikitext);
  EXPECT_EQ(parse_document_format("lines"), DocumentFormat::lines);
  EXPECT_EQ(parse_document_format("text"), DocumentFormat::text);
  EXPECT_EQ(document_format_name(DocumentFormat::lines), "lines");
  EXPECT_THROW(parse_document_format("json"), Error);
}

void expect_error(const std::string& text, DocumentFormat format, const std::string& needle) {
  try {
    split_documents(text, format, "data.txt");
    ADD_FAILURE() << "no error for '" << text << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("data.txt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Documents, NothingToEvaluateIsAnError) {
  for (const auto format : {DocumentFormat::wikitext, DocumentFormat::lines, DocumentFormat::text})
    expect_error("", format, "empty");
  expect_error("plain text\nwith no titles\n = = Section = = \n", DocumentFormat::wikitext, "Title");
  expect_error("\r\n\n", DocumentFormat::lines, "no non-empty line");
  EXPECT_THROW(read_documents("/nonexistent/data.txt", DocumentFormat::text), Error);
}

}  // namespace
}  // namespace gptoss
