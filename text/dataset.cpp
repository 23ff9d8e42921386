#include "text/dataset.h"

#include <algorithm>
#include <array>
#include <span>

#include "common/strict_json.h"
#include "text/chat_template.h"
#include "text/dataset_rows.h"
#include "text/prompt_template.h"

namespace gradients::text {
namespace {

using json = nlohmann::json;

// Columns listed in a "missing" error; a wide CSV must not make the message unbounded.
constexpr size_t kMaxColumnsShown = 10;

constexpr std::array<DatasetFormat, 3> kFormats = {DatasetFormat::kText, DatasetFormat::kInstruct,
                                                   DatasetFormat::kChat};

std::string_view Trim(std::string_view text) {
  size_t start = text.find_first_not_of(" \t");
  if (start == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t");
  return text.substr(start, end - start + 1);
}

std::string Quoted(std::string_view text) { return common::JsonSnippet(std::string(text)); }

std::string RoleList(DatasetFormat format) {
  std::string out;
  for (std::string_view role : DatasetRoles(format)) out += (out.empty() ? "" : ", ") + std::string(role);
  return out;
}

common::Status CheckRoleIsRead(std::string_view role, DatasetFormat format) {
  const std::vector<std::string_view>& roles = DatasetRoles(format);
  if (std::find(roles.begin(), roles.end(), role) != roles.end()) return common::Status::Ok();
  return common::Status::InvalidArgument("role " + Quoted(role) + " is not read by format \"" +
                                 std::string(DatasetFormatName(format)) + "\" (roles: " + RoleList(format) + ")");
}

common::Status CheckMappedRoles(const ColumnMapping& mapping, DatasetFormat format) {
  for (const auto& [role, column] : mapping.columns) GRADIENTS_RETURN_IF_ERROR(CheckRoleIsRead(role, format));
  return common::Status::Ok();
}

common::Status AddMappingPair(std::string_view pair, DatasetFormat format, ColumnMapping& mapping) {
  if (pair.empty()) return common::Status::InvalidArgument("column mapping: empty entry (a stray comma?)");
  size_t equals = pair.find('=');
  if (equals == std::string_view::npos || pair.find('=', equals + 1) != std::string_view::npos) {
    return common::Status::InvalidArgument("column mapping: " + Quoted(pair) + " is not role=column");
  }
  std::string_view role = Trim(pair.substr(0, equals));
  std::string_view column = Trim(pair.substr(equals + 1));
  if (role.empty()) return common::Status::InvalidArgument("column mapping: " + Quoted(pair) + " has no role");
  if (column.empty()) return common::Status::InvalidArgument("column mapping: " + Quoted(pair) + " has no column");
  GRADIENTS_RETURN_IF_ERROR(CheckRoleIsRead(role, format).WithContext("column mapping"));
  if (!mapping.columns.emplace(role, column).second) {
    return common::Status::InvalidArgument("column mapping: role " + Quoted(role) + " is mapped twice");
  }
  return common::Status::Ok();
}

// Builds an example piece by piece, so that each piece's loss flag covers exactly its tokens.
class ExampleBuilder {
 public:
  void Add(std::span<const int32_t> ids, bool trained) {
    example_.input_ids.insert(example_.input_ids.end(), ids.begin(), ids.end());
    if (trained) {
      example_.labels.insert(example_.labels.end(), ids.begin(), ids.end());
    } else {
      example_.labels.insert(example_.labels.end(), ids.size(), kIgnoredLabel);
    }
  }
  void Add(int32_t id, bool trained) { Add(std::span<const int32_t>(&id, 1), trained); }

  TokenizedExample Finish(int64_t max_length) && {
    if (static_cast<int64_t>(example_.input_ids.size()) > max_length) {
      example_.input_ids.resize(static_cast<size_t>(max_length));
      example_.labels.resize(static_cast<size_t>(max_length));
    }
    return std::move(example_);
  }

 private:
  TokenizedExample example_;
};

// The fields of one row, read through the column mapping; errors name role and column.
class RowFields {
 public:
  RowFields(const json& row, const ColumnMapping& mapping) : row_(row), mapping_(mapping) {}

  common::Status Error(std::string_view role, const std::string& message) const {
    std::string column(ColumnFor(mapping_, role));
    std::string where = "field " + Quoted(role);
    if (column != role) where += " (column " + Quoted(column) + ")";
    return common::Status::InvalidArgument(where + ": " + message);
  }

  common::Result<const json*> Required(std::string_view role) const {
    const json* value = Find(role);
    if (value == nullptr) return Error(role, "missing (the row's columns: " + ColumnsOfRow() + ")");
    return value;
  }

  common::Result<std::string> RequiredString(std::string_view role) const {
    GRADIENTS_ASSIGN_OR_RETURN(const json* value, Required(role));
    return AsString(role, *value);
  }

  // A missing or null optional field reads as empty.
  common::Result<std::string> OptionalString(std::string_view role) const {
    const json* value = Find(role);
    if (value == nullptr || value->is_null()) return std::string();
    return AsString(role, *value);
  }

 private:
  const json* Find(std::string_view role) const {
    auto it = row_.find(ColumnFor(mapping_, role));
    return it == row_.end() ? nullptr : &*it;
  }

  common::Result<std::string> AsString(std::string_view role, const json& value) const {
    if (!value.is_string()) return Error(role, "expected a string, got " + common::JsonSnippet(value));
    return value.get<std::string>();
  }

  std::string ColumnsOfRow() const {
    std::string out;
    size_t shown = 0;
    for (const auto& [key, value] : row_.items()) {
      if (shown++ == kMaxColumnsShown) return out + ", ...";
      out += (out.empty() ? "" : ", ") + Quoted(key);
    }
    return out.empty() ? "none" : out;
  }

  const json& row_;
  const ColumnMapping& mapping_;
};

// Options checked and templates parsed once, for many rows.
class RowTokenizer {
 public:
  static common::Result<RowTokenizer> Create(const Tokenizer& tokenizer, const DatasetOptions& options) {
    GRADIENTS_RETURN_IF_ERROR(ValidateDatasetOptions(options));
    GRADIENTS_ASSIGN_OR_RETURN(PromptTemplate prompt_template, PromptTemplate::Parse(options.prompt_template));
    GRADIENTS_ASSIGN_OR_RETURN(ChatTemplate chat_template, FindChatTemplate(options.chat_template));
    return RowTokenizer(tokenizer, options, std::move(prompt_template), chat_template);
  }

  common::Result<TokenizedExample> Tokenize(const json& row) const {
    if (!row.is_object()) return common::Status::InvalidArgument("expected a JSON object, got " + common::JsonSnippet(row));
    RowFields fields(row, options_->columns);
    ExampleBuilder example;
    bool bos_trained = options_->format == DatasetFormat::kText;
    if (options_->add_bos && tokenizer_->bos_id()) example.Add(*tokenizer_->bos_id(), bos_trained);
    switch (options_->format) {
      case DatasetFormat::kText: GRADIENTS_RETURN_IF_ERROR(AddText(fields, example)); break;
      case DatasetFormat::kInstruct: GRADIENTS_RETURN_IF_ERROR(AddInstruct(fields, example)); break;
      case DatasetFormat::kChat: GRADIENTS_RETURN_IF_ERROR(AddChat(fields, example)); break;
    }
    return std::move(example).Finish(options_->max_length);
  }

 private:
  RowTokenizer(const Tokenizer& tokenizer, const DatasetOptions& options, PromptTemplate prompt_template,
               ChatTemplate chat_template)
      : tokenizer_(&tokenizer),
        options_(&options),
        prompt_template_(std::move(prompt_template)),
        chat_template_(chat_template) {}

  std::vector<int32_t> Encode(std::string_view text) const {
    return tokenizer_->Encode(text, /*add_special_tokens=*/false);
  }

  void AddEos(ExampleBuilder& example) const {
    if (options_->add_eos && tokenizer_->eos_id()) example.Add(*tokenizer_->eos_id(), true);
  }

  common::Status AddText(const RowFields& fields, ExampleBuilder& example) const {
    GRADIENTS_ASSIGN_OR_RETURN(std::string text, fields.RequiredString("text"));
    example.Add(Encode(text), true);
    AddEos(example);
    return common::Status::Ok();
  }

  common::Status AddInstruct(const RowFields& fields, ExampleBuilder& example) const {
    GRADIENTS_ASSIGN_OR_RETURN(std::string instruction, fields.RequiredString("instruction"));
    GRADIENTS_ASSIGN_OR_RETURN(std::string input, fields.OptionalString("input"));
    GRADIENTS_ASSIGN_OR_RETURN(std::string output, fields.RequiredString("output"));
    GRADIENTS_ASSIGN_OR_RETURN(std::string system, fields.OptionalString("system"));
    if (!input.empty() && !prompt_template_.shows_input()) {
      return fields.Error("input", "not empty, but the prompt template has no {input} placeholder");
    }
    if (!system.empty() && !prompt_template_.shows_system()) {
      return fields.Error("system", "not empty, but the prompt template has no {system} placeholder");
    }
    std::string prompt = prompt_template_.Render({.system = system, .instruction = instruction, .input = input});
    example.Add(Encode(prompt), false);
    example.Add(Encode(output), true);
    AddEos(example);
    return common::Status::Ok();
  }

  common::Status AddChat(const RowFields& fields, ExampleBuilder& example) const {
    GRADIENTS_ASSIGN_OR_RETURN(const json* value, fields.Required("messages"));
    common::Result<std::vector<ChatMessage>> messages = ParseChatMessages(*value);
    if (!messages.ok()) return fields.Error("messages", messages.status().message());
    for (const ChatSegment& segment : RenderChat(chat_template_, *messages)) {
      std::optional<int32_t> special = segment.is_special_token ? tokenizer_->TokenToId(segment.text) : std::nullopt;
      if (special) {
        example.Add(*special, segment.trained);
      } else {
        example.Add(Encode(segment.text), segment.trained);
      }
    }
    return common::Status::Ok();
  }

  const Tokenizer* tokenizer_;
  const DatasetOptions* options_;
  PromptTemplate prompt_template_;
  ChatTemplate chat_template_;
};

}  // namespace

common::Result<DatasetFormat> ParseDatasetFormat(std::string_view name) {
  for (DatasetFormat format : kFormats) {
    if (DatasetFormatName(format) == name) return format;
  }
  return common::Status::InvalidArgument("unknown dataset format " + Quoted(name) + " (expected text, instruct or chat)");
}

std::string_view DatasetFormatName(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kText: return "text";
    case DatasetFormat::kInstruct: return "instruct";
    case DatasetFormat::kChat: return "chat";
  }
  return "unknown";
}

const std::vector<std::string_view>& DatasetRoles(DatasetFormat format) {
  static const std::vector<std::string_view> kText = {"text"};
  static const std::vector<std::string_view> kInstruct = {"instruction", "input", "output", "system"};
  static const std::vector<std::string_view> kChat = {"messages"};
  switch (format) {
    case DatasetFormat::kText: return kText;
    case DatasetFormat::kInstruct: return kInstruct;
    case DatasetFormat::kChat: return kChat;
  }
  return kText;
}

common::Result<ColumnMapping> ParseColumnMapping(std::string_view spec, DatasetFormat format) {
  ColumnMapping mapping;
  if (Trim(spec).empty()) return mapping;
  size_t start = 0;
  while (true) {
    size_t comma = spec.find(',', start);
    std::string_view pair = spec.substr(start, comma == std::string_view::npos ? spec.npos : comma - start);
    GRADIENTS_RETURN_IF_ERROR(AddMappingPair(Trim(pair), format, mapping));
    if (comma == std::string_view::npos) return mapping;
    start = comma + 1;
  }
}

std::string_view ColumnFor(const ColumnMapping& mapping, std::string_view role) {
  auto it = mapping.columns.find(std::string(role));
  return it == mapping.columns.end() ? role : std::string_view(it->second);
}

// Accepts the roles of every format: the format is a sibling key, checked by the caller.
void ReadConfig(common::ConfigReader& reader, ColumnMapping& mapping) {
  for (DatasetFormat format : kFormats) {
    for (std::string_view role : DatasetRoles(format)) {
      std::string column(role);
      reader.Optional(role, column).Check(!column.empty(), role, "the column name is empty");
      if (!column.empty() && column != role) mapping.columns[std::string(role)] = column;
    }
  }
}

void ReadConfig(common::ConfigReader& reader, DatasetOptions& options) {
  std::string format_name(DatasetFormatName(options.format));
  reader.OptionalChoice("format", format_name, {"text", "instruct", "chat"});
  if (common::Result<DatasetFormat> format = ParseDatasetFormat(format_name); format.ok()) options.format = *format;
  reader.Optional("columns", options.columns)
      .Optional("max_length", options.max_length)
      .Optional("prompt_template", options.prompt_template)
      .Optional("chat_template", options.chat_template)
      .Optional("add_bos", options.add_bos)
      .Optional("add_eos", options.add_eos)
      .Check(options.max_length > 0, "max_length", "must be positive");
  common::Status roles = CheckMappedRoles(options.columns, options.format);
  reader.Check(roles.ok(), "columns", roles.message());
  common::Status prompt_template = PromptTemplate::Parse(options.prompt_template).status();
  reader.Check(prompt_template.ok(), "prompt_template", prompt_template.message());
  common::Status chat_template = FindChatTemplate(options.chat_template).status();
  reader.Check(chat_template.ok(), "chat_template", chat_template.message());
}

common::Status ValidateDatasetOptions(const DatasetOptions& options) {
  if (options.max_length <= 0) {
    return common::Status::InvalidArgument("max_length must be positive, got " + std::to_string(options.max_length));
  }
  GRADIENTS_RETURN_IF_ERROR(CheckMappedRoles(options.columns, options.format).WithContext("column mapping"));
  GRADIENTS_RETURN_IF_ERROR(PromptTemplate::Parse(options.prompt_template).status().WithContext("prompt template"));
  return FindChatTemplate(options.chat_template).status();
}

common::Result<TokenizedExample> TokenizeRow(const json& row, const Tokenizer& tokenizer, const DatasetOptions& options) {
  GRADIENTS_ASSIGN_OR_RETURN(RowTokenizer row_tokenizer, RowTokenizer::Create(tokenizer, options));
  return row_tokenizer.Tokenize(row);
}

common::Result<std::vector<TokenizedExample>> LoadTokenizedDataset(const std::filesystem::path& path,
                                                           const Tokenizer& tokenizer, const DatasetOptions& options) {
  GRADIENTS_ASSIGN_OR_RETURN(RowTokenizer row_tokenizer, RowTokenizer::Create(tokenizer, options));
  GRADIENTS_ASSIGN_OR_RETURN(std::vector<LocatedDatasetRow> rows, ReadLocatedDatasetRows(path));
  std::vector<TokenizedExample> examples;
  examples.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    common::Result<TokenizedExample> example = row_tokenizer.Tokenize(rows[i].fields);
    if (!example.ok()) {
      return example.status().WithContext(path.string() + ": " +
                                          DatasetRowLocation(static_cast<int64_t>(i) + 1, rows[i].line));
    }
    examples.push_back(std::move(example).value());
  }
  return examples;
}

}  // namespace gradients::text
