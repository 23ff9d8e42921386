// Datasets for fine-tuning and evaluation: rows of JSONL or CSV files turned into token ids with
// loss masks, exactly what training and the validator's evaluation (mean next-token
// cross-entropy over the unmasked tokens) consume.
//
// Three formats, each reading its fields from columns (a column mapping renames them):
//   text      the field "text"; the loss applies to every token.
//   instruct  "instruction", optional "input", "output", optional "system", joined by a prompt
//             template (text/prompt_template.h; Alpaca's by default); the loss applies to the
//             output and the EOS after it only.
//   chat      "messages", a list of {role, content} (in CSV a column holding that list as a JSON
//             string), joined by a chat template (text/chat_template.h; ChatML by default);
//             the loss applies to each assistant turn's content and closing <|im_end|> only.
//
// Templated pieces are tokenized separately and concatenated (prompt, then output; turn by turn),
// as most SFT trainers do, so the boundary between masked and trained tokens is exact. Joining the
// texts first and tokenizing once may merge tokens across a boundary and differ slightly.
//
// Errors name the file, the row and the field: `train.jsonl: row 3: field "output" (column
// "answer"): expected a string, got 5`. Rows count from 1 in file order, blank JSONL lines and the
// CSV header excluded; where the row starts on another line, the line follows: `row 3 (line 4)`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/status.h"
#include "text/tokenizer.h"

namespace gradients::text {

// Files above this size are refused: a dataset is held in memory whole, as text and then as rows
// (several times its size), and 2 GiB is far above the datasets fine-tuning tasks use.
inline constexpr uint64_t kMaxDatasetFileBytes = uint64_t{2} << 30;
// A JSONL line or CSV record above this size is refused; no single example needs more.
inline constexpr uint64_t kMaxDatasetRowBytes = uint64_t{64} << 20;

// The label of a token the loss does not apply to (PyTorch's and Hugging Face's ignore_index).
inline constexpr int32_t kIgnoredLabel = -100;

enum class DatasetFormat { kText, kInstruct, kChat };

// "text", "instruct" or "chat".
common::Result<DatasetFormat> ParseDatasetFormat(std::string_view name);
std::string_view DatasetFormatName(DatasetFormat format);

// The roles a format reads: text: text; instruct: instruction, input, output, system; chat: messages.
const std::vector<std::string_view>& DatasetRoles(DatasetFormat format);

// Role -> column name. Roles not mapped read the column of their own name.
struct ColumnMapping {
  std::map<std::string, std::string> columns;
};

// Parses "instruction=q,output=a" (spaces around names ignored; names cannot hold ',' or '=').
// The empty spec maps nothing. A malformed pair, an empty name, a role mapped twice or a role
// the format does not read is an error naming it.
common::Result<ColumnMapping> ParseColumnMapping(std::string_view spec, DatasetFormat format);

// The column `role` reads under `mapping`.
std::string_view ColumnFor(const ColumnMapping& mapping, std::string_view role);

// In a config file, an object of role -> column: {"instruction": "question", "output": "answer"}.
void ReadConfig(common::ConfigReader& reader, ColumnMapping& mapping);

struct DatasetOptions {
  DatasetFormat format = DatasetFormat::kText;
  // Roles not mapped read the column of their own name.
  ColumnMapping columns;
  // Tokens per example after templating; longer examples lose their end (which may be all of
  // their trained tokens: such an example adds nothing to the loss).
  int64_t max_length = 2048;
  // Instruct only; empty = Alpaca's (see text/prompt_template.h).
  std::string prompt_template;
  // Chat only; a name FindChatTemplate knows.
  std::string chat_template = "chatml";
  // Prepend the tokenizer's BOS when it has one (as Hugging Face's add_special_tokens does for
  // Llama); the loss never applies to it except in the text format, where every label is the id.
  bool add_bos = true;
  // Append the tokenizer's EOS when it has one, after the text (text) or the output (instruct);
  // the loss applies to it. Chat adds none: the template's turn end (<|im_end|>) is the stop.
  bool add_eos = true;
};

// Keys: format ("text" | "instruct" | "chat"), columns (see above), max_length, prompt_template,
// chat_template, add_bos, add_eos. Checks what ValidateDatasetOptions checks.
void ReadConfig(common::ConfigReader& reader, DatasetOptions& options);

// max_length > 0, mapped roles read by the format, the prompt and chat templates valid.
common::Status ValidateDatasetOptions(const DatasetOptions& options);

// One example: input_ids and labels of equal length; labels[i] == input_ids[i] where the loss
// applies, kIgnoredLabel elsewhere (the Hugging Face convention: the model shifts, so the logits at
// position i are scored against labels[i + 1]).
struct TokenizedExample {
  std::vector<int32_t> input_ids;
  std::vector<int32_t> labels;
};

enum class DatasetFileFormat { kJsonl, kCsv };

// By extension, case-insensitively: .jsonl or .json-lines -> kJsonl, .csv -> kCsv.
common::Result<DatasetFileFormat> DatasetFileFormatOf(const std::filesystem::path& path);

// The rows of a dataset file as JSON objects, in file order; CSV cells become strings.
// JSONL: one object per line; blank lines skipped; a UTF-8 byte order mark tolerated.
// CSV: RFC 4180 (see text/csv.h), UTF-8, a header row of distinct, non-empty column names
// required, every record with as many fields as the header.
// A file without rows is an error. Errors name the file and row.
common::Result<std::vector<nlohmann::json>> ReadDatasetRows(const std::filesystem::path& path);

// Writes `rows` (JSON objects) durably to `path` in `format`, so that ReadDatasetRows reads them
// back: JSONL writes each object on a line; CSV writes a header of the first row's keys (in
// nlohmann::json's order: sorted) and requires every row to have exactly those keys; string
// cells are written as they are, null as an empty cell, other values as JSON text (so a chat row's
// messages array becomes the JSON string a CSV chat dataset holds). Refuses an empty dataset and
// rows or files above the reading limits.
common::Status WriteDatasetRows(const std::filesystem::path& path, const std::vector<nlohmann::json>& rows,
                        DatasetFileFormat format);

// Tokenizes one row (a JSON object). Errors name the field and column
// (`field "output" (column "answer"): expected a string, got 5`); the caller adds file and row.
common::Result<TokenizedExample> TokenizeRow(const nlohmann::json& row, const Tokenizer& tokenizer,
                                     const DatasetOptions& options);

// ReadDatasetRows, then TokenizeRow on each row; errors name file, row and field.
common::Result<std::vector<TokenizedExample>> LoadTokenizedDataset(const std::filesystem::path& path,
                                                           const Tokenizer& tokenizer,
                                                           const DatasetOptions& options);

}  // namespace gradients::text
