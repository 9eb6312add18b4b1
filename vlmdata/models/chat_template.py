"""The Jinja chat template saved with the tiny model (Qwen3-VL conventions).

Each turn is `<|im_start|>{role}\\n{content}<|im_end|>\\n`; an image item becomes
`<|vision_start|><|image_pad|><|vision_end|>` (the processor then repeats `<|image_pad|>` once per merged
patch of the image grid), a video item the same with `<|video_pad|>`. There is no default system prompt
(Qwen3-VL Instruct has none). Assistant tool calls and tool results follow Qwen3's `<tool_call>` /
`<tool_response>` layout; `add_generation_prompt` opens an assistant turn.
"""

from __future__ import annotations

CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}"
    "{% set video_count = namespace(value=0) %}"
    "{% macro render_content(content) %}"
    "{% if content is string %}{{ content }}"
    "{% elif content is none %}"
    "{% else %}"
    "{% for item in content %}"
    "{% if item.type == 'image' or 'image' in item or 'image_url' in item %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif item.type == 'video' or 'video' in item %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in item %}{{ item.text }}"
    "{% endif %}"
    "{% endfor %}"
    "{% endif %}"
    "{% endmacro %}"
    "{% if tools %}"
    "<|im_start|>system\n"
    "{% if messages[0].role == 'system' %}{{ render_content(messages[0].content) + '\\n\\n' }}{% endif %}"
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
    "{% for tool in tools %}{{ '\\n' }}{{ tool | tojson }}{% endfor %}{{ '\\n' }}</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n'
    "</tool_call><|im_end|>\n"
    "{% elif messages[0].role == 'system' %}"
    "<|im_start|>system\n{{ render_content(messages[0].content) }}<|im_end|>\n"
    "{% endif %}"
    "{% for message in messages %}"
    "{% if message.role == 'system' %}"
    "{% if not loop.first %}<|im_start|>system\n{{ render_content(message.content) }}<|im_end|>\n{% endif %}"
    "{% elif message.role == 'user' %}"
    "<|im_start|>user\n{{ render_content(message.content) }}<|im_end|>\n"
    "{% elif message.role == 'assistant' %}"
    "<|im_start|>assistant\n{{ render_content(message.content) }}"
    "{% if message.tool_calls %}"
    "{% for tool_call in message.tool_calls %}"
    "{% set call = tool_call.function if tool_call.function else tool_call %}"
    "{% if not loop.first or message.content %}{{ '\\n' }}{% endif %}"
    '<tool_call>\n{"name": "{{ call.name }}", "arguments": '
    "{{ call.arguments if call.arguments is string else call.arguments | tojson }}}\n</tool_call>"
    "{% endfor %}"
    "{% endif %}"
    "<|im_end|>\n"
    "{% elif message.role == 'tool' %}"
    "{% if loop.first or messages[loop.index0 - 1].role != 'tool' %}<|im_start|>user{% endif %}"
    "{{ '\\n' }}<tool_response>\n{{ render_content(message.content) }}\n</tool_response>"
    "{% if loop.last or messages[loop.index0 + 1].role != 'tool' %}<|im_end|>\n{% endif %}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
