#include "text/chat_template.h"

#include <algorithm>
#include <array>

#include "common/strict_json.h"

namespace gradients::text {
namespace {

constexpr std::array<std::string_view, 3> kChatRoles = {"system", "user", "assistant"};

constexpr std::array<ChatTemplate, 1> kChatTemplates = {{
    {.name = "chatml", .turn_start = "<|im_start|>", .after_role = "\n", .turn_end = "<|im_end|>", .after_turn = "\n"},
}};

common::Result<std::string> ReadMessageString(const nlohmann::json& message, std::string_view key) {
  auto it = message.find(key);
  if (it == message.end()) return common::Status::InvalidArgument("\"" + std::string(key) + "\" is missing");
  if (!it->is_string()) {
    return common::Status::InvalidArgument("\"" + std::string(key) + "\": expected a string, got " + common::JsonSnippet(*it));
  }
  return it->get<std::string>();
}

common::Result<ChatMessage> ReadMessage(const nlohmann::json& message) {
  if (!message.is_object()) {
    return common::Status::InvalidArgument("expected an object with \"role\" and \"content\", got " + common::JsonSnippet(message));
  }
  ChatMessage out;
  GRADIENTS_ASSIGN_OR_RETURN(out.role, ReadMessageString(message, "role"));
  if (std::find(kChatRoles.begin(), kChatRoles.end(), out.role) == kChatRoles.end()) {
    return common::Status::InvalidArgument("unknown role " + common::JsonSnippet(out.role) + " (allowed: system, user, assistant)");
  }
  GRADIENTS_ASSIGN_OR_RETURN(out.content, ReadMessageString(message, "content"));
  return out;
}

}  // namespace

common::Result<std::vector<ChatMessage>> ParseChatMessages(const nlohmann::json& value) {
  if (value.is_string()) {
    common::Result<nlohmann::json> parsed = common::ParseStrictJson(value.get_ref<const std::string&>());
    if (!parsed.ok())
      return common::Status::InvalidArgument("the string is not a JSON list of messages: " + parsed.status().message());
    if (!parsed->is_array()) {
      return common::Status::InvalidArgument("the string is not a JSON list of messages, it holds " + common::JsonSnippet(*parsed));
    }
    return ParseChatMessages(*parsed);
  }
  if (!value.is_array()) {
    return common::Status::InvalidArgument("expected a list of messages (a JSON array, or a string holding one), got " +
                                   common::JsonSnippet(value));
  }
  if (value.empty()) return common::Status::InvalidArgument("the list of messages is empty");
  std::vector<ChatMessage> messages;
  messages.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    common::Result<ChatMessage> message = ReadMessage(value[i]);
    if (!message.ok()) return message.status().WithContext("message " + std::to_string(i + 1));
    messages.push_back(std::move(message).value());
  }
  return messages;
}

common::Result<ChatTemplate> FindChatTemplate(std::string_view name) {
  for (const ChatTemplate& known : kChatTemplates) {
    if (known.name == name) return known;
  }
  return common::Status::InvalidArgument("unknown chat template " + common::JsonSnippet(std::string(name)) + " (known: chatml)");
}

std::vector<ChatSegment> RenderChat(const ChatTemplate& chat_template, std::span<const ChatMessage> messages) {
  std::vector<ChatSegment> segments;
  auto add = [&](std::string text, bool is_special_token, bool trained) {
    if (!text.empty()) segments.push_back({std::move(text), is_special_token, trained});
  };
  for (const ChatMessage& message : messages) {
    bool trained = message.role == "assistant";
    add(std::string(chat_template.turn_start), true, false);
    add(message.role + std::string(chat_template.after_role), false, false);
    add(message.content, false, trained);
    add(std::string(chat_template.turn_end), true, trained);
    add(std::string(chat_template.after_turn), false, false);
  }
  return segments;
}

}  // namespace gradients::text
