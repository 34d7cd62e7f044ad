#!/usr/bin/env python3
"""Write the upstream-error golden cases under tests/data/translate/errors/.
Each case: upstream.json (what the upstream sent) and expected.json (what the
client must get). Run from the top of the source tree."""
import json, os
base = 'tests/data/translate/errors'
def case(name, status, body, ra, exp_status, exp_type, contains, exp_ra=None):
    d = os.path.join(base, name); os.makedirs(d, exist_ok=True)
    if not isinstance(body, str):
        body = json.dumps(body)
    json.dump({"status": status, "body": body, "retry_after": ra}, open(os.path.join(d, 'upstream.json'), 'w'), indent=1, ensure_ascii=False)
    json.dump({"status": exp_status, "type": exp_type, "message_contains": contains, "retry_after": exp_ra}, open(os.path.join(d, 'expected.json'), 'w'), indent=1, ensure_ascii=False)
E = lambda m, t="invalid_request_error", c=None: {"error": {"message": m, "type": t, "param": None, "code": c}}
case("001-400-plain", 400, E("Invalid 'messages[1].content': string too long."), None, 400, "invalid_request_error", "string too long")
case("002-400-context-length-openai", 400, E("This model's maximum context length is 128000 tokens. However, your messages resulted in 130532 tokens. Please reduce the length of the messages.", c="context_length_exceeded"), None, 400, "invalid_request_error", "prompt is too long: 130532 tokens > 128000 maximum")
case("003-400-context-length-vllm", 400, {"object": "error", "message": "This model's maximum context length is 32768 tokens. However, you requested 40000 tokens (38000 in the messages, 2000 in the completion). Please reduce the length of the messages or completion.", "type": "BadRequestError", "param": None, "code": 400}, None, 400, "invalid_request_error", "prompt is too long: 40000 tokens > 32768 maximum")
case("004-400-too-many-tokens", 400, E("Input has too many tokens for this model"), None, 400, "invalid_request_error", "prompt is too long")
case("005-401-auth", 401, E("Incorrect API key provided: sk-abc***xyz.", "invalid_request_error", "invalid_api_key"), None, 401, "authentication_error", "Incorrect API key")
case("006-403-permission", 403, E("You are not allowed to use this model", "permission_error"), None, 403, "permission_error", "not allowed")
case("007-404-model", 404, E("The model `gpt-big` does not exist or you do not have access to it.", c="model_not_found"), None, 404, "not_found_error", "does not exist")
case("008-413-text-body", 413, "Request Entity Too Large\n", None, 413, "request_too_large", "Request Entity Too Large")
case("009-429-retry-after", 429, E("Rate limit reached for gpt-big on tokens per min (TPM): Limit 30000, Used 29000.", "tokens", "rate_limit_exceeded"), "7", 429, "rate_limit_error", "Rate limit reached", "7")
case("010-500-server-error", 500, E("The server had an error while processing your request.", "server_error"), None, 500, "api_error", "server had an error")
case("011-502-html", 502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", None, 529, "overloaded_error", "upstream returned HTTP 502")
case("012-503-retry-after", 503, E("The engine is currently overloaded, please try again later", "server_error"), " 30 ", 529, "overloaded_error", "overloaded", "30")
case("013-504-empty", 504, "", None, 529, "overloaded_error", "upstream returned HTTP 504")
case("014-501-other-5xx", 501, E("not implemented", "server_error"), None, 501, "api_error", "not implemented")
case("015-422-other-4xx", 422, {"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}, None, 400, "invalid_request_error", "field required")
case("016-429-gemini-array", 429, [{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}], None, 429, "rate_limit_error", "Resource has been exhausted")
case("017-400-context-window-code", 400, E("Your input exceeds the context window of this model. Please adjust your input and try again.", c="context_length_exceeded"), None, 400, "invalid_request_error", "prompt is too long: Your input exceeds the context window")
case("018-429-retry-after-injection", 429, E("slow down", "requests", "rate_limit_exceeded"), "5\r\nX-Evil: 1", 429, "rate_limit_error", "slow down", None)
case("019-408-timeout", 408, "", None, 504, "api_error", "upstream returned HTTP 408")
case("020-400-fastapi-detail", 400, {"detail": "Invalid model name passed in model=claude-x"}, None, 400, "invalid_request_error", "Invalid model name")
case("021-500-control-chars", 500, "oops\n\tsomething \x01broke\n", None, 500, "api_error", "oops something broke")
case("022-400-error-string", 400, {"error": "max_tokens is too large: 128000. This model supports at most 16384 completion tokens"}, None, 400, "invalid_request_error", "max_tokens is too large")
