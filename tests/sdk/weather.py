"""The weather tool the SDK tests call, in each API's shape, and the conversation around it.

The mock upstream answers a model with `tool` in its name by calling the request's first
tool with {"city": "Paris"} (crates/modelgate-testkit).
"""

from __future__ import annotations

import json
from typing import Any

NAME = "get_weather"
DESCRIPTION = "The current weather in a city."


def city_schema(**extra: Any) -> dict[str, Any]:
    """The JSON schema of {"city": "..."}, with `extra` keywords (e.g. additionalProperties)."""
    return {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        **extra,
    }


# Chat completions (`tools=[WEATHER_TOOL]`).
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": NAME, "description": DESCRIPTION, "parameters": city_schema()},
}
WEATHER_MESSAGES = [{"role": "user", "content": "What's the weather in Paris?"}]
# Chat completions: the assistant's call of the tool and the tool's answer, the turn after
# WEATHER_MESSAGES.
WEATHER_TOOL_TURN = [
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": NAME, "arguments": json.dumps({"city": "Paris"})},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "18C and sunny"},
]

# Anthropic Messages.
ANTHROPIC_WEATHER_TOOL = {"name": NAME, "description": DESCRIPTION, "input_schema": city_schema()}

# The Responses API: a strict function tool, so its schema closes the object.
RESPONSES_WEATHER_TOOL = {
    "type": "function",
    "name": NAME,
    "description": DESCRIPTION,
    "parameters": city_schema(additionalProperties=False),
    "strict": True,
}
