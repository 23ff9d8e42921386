#include "common/strict_json.h"

#include <vector>

namespace gradients::common {
namespace {

using json = nlohmann::json;

// Builds the DOM itself so it can see every key before insertion.
class StrictSax : public nlohmann::json_sax<json> {
 public:
  explicit StrictSax(const StrictJsonOptions& options) : options_(options) {}

  bool null() override { return Put(json(nullptr)); }
  bool boolean(bool v) override { return Put(json(v)); }
  bool number_integer(number_integer_t v) override { return Put(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Put(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return Put(json(v)); }
  bool string(string_t& v) override { return Put(json(std::move(v))); }
  bool binary(binary_t&) override { return Fail("binary values are not JSON"); }

  bool start_object(std::size_t) override { return Open(json::object()); }
  bool start_array(std::size_t) override { return Open(json::array()); }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }

  bool key(string_t& k) override {
    json* object = stack_.back();
    if (object->contains(k)) return Fail("duplicate key \"" + JsonSnippetOfKey(k) + "\"");
    pending_key_ = std::move(k);
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    error_ = "invalid JSON at byte " + std::to_string(position) + ": " + ShortParseMessage(e.what());
    return false;
  }

  // The byte offset is only known to the parser; the caller adds it for our own errors.
  const std::string& error() const { return error_; }
  json& root() { return root_; }

 private:
  static std::string JsonSnippetOfKey(const std::string& k) {
    return k.size() <= 64 ? k : k.substr(0, 64) + "...";
  }

  // nlohmann's message is "[json.exception.parse_error.101] parse error at line 1, column 5: syntax
  // error while parsing value - invalid literal; last read: 'tru?'"; the tag adds nothing for a user.
  static std::string ShortParseMessage(std::string message) {
    size_t start = message.find("] ");
    if (start != std::string::npos) message = message.substr(start + 2);
    if (message.size() > 200) message = message.substr(0, 200) + "...";
    return message;
  }

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  bool Put(json value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return true;
    }
    json* parent = stack_.back();
    if (parent->is_object()) {
      (*parent)[pending_key_] = std::move(value);
    } else {
      parent->push_back(std::move(value));
    }
    return true;
  }

  bool Open(json container) {
    if (stack_.size() >= options_.max_depth) {
      return Fail("nesting deeper than " + std::to_string(options_.max_depth) + " levels");
    }
    json* slot = nullptr;
    if (stack_.empty()) {
      root_ = std::move(container);
      slot = &root_;
    } else if (json* parent = stack_.back(); parent->is_object()) {
      slot = &((*parent)[pending_key_] = std::move(container));
    } else {
      parent->push_back(std::move(container));
      slot = &parent->back();
    }
    stack_.push_back(slot);
    return true;
  }

  bool Close() {
    stack_.pop_back();
    return true;
  }

  const StrictJsonOptions& options_;
  json root_;
  std::vector<json*> stack_;
  std::string pending_key_;
  std::string error_;
};

}  // namespace

Result<nlohmann::json> ParseStrictJson(std::string_view text, const StrictJsonOptions& options) {
  StrictSax sax(options);
  // Counting bytes ourselves is not possible from inside the handler, so our own errors
  // (duplicates, depth) are reported without an offset but with the offending key.
  bool ok = json::sax_parse(text.begin(), text.end(), &sax, json::input_format_t::json, /*strict=*/true);
  if (!ok) {
    return Status::InvalidArgument(sax.error().empty() ? "invalid JSON" : sax.error());
  }
  return std::move(sax.root());
}

std::string JsonSnippet(const nlohmann::json& value, size_t max_chars) {
  std::string text = value.dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace);
  if (text.size() > max_chars) text = text.substr(0, max_chars) + "...";
  return text;
}

}  // namespace gradients::common
