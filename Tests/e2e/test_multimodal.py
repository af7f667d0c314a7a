"""Multimodal OpenAI content parts through the front Flashgate to the upstream mock.

The mock model echoes only the text of the last user message, so these tests check that media
parts are accepted end to end (200, the text part echoed) and that refusals are clean 400s that
name the part.
"""

from __future__ import annotations

import base64
import io
import struct
import wave

import openai
import pytest

from conftest import MODEL

# A 1x1 transparent PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()

PDF = base64.b64encode(
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
).decode()


def wav_base64() -> str:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(struct.pack("<80h", *([0] * 80)))
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def client(gateways):
    client = openai.OpenAI(base_url=f"{gateways.front.base_url}/v1", api_key="sk-test", max_retries=0, timeout=30)
    yield client
    client.close()


def ask(client, *parts):
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": list(parts)}])


def test_image_data_url(client):
    completion = ask(
        client,
        {"type": "text", "text": "describe this picture"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "high"}},
    )
    assert completion.choices[0].message.content == "describe this picture"
    assert completion.choices[0].finish_reason == "stop"


def test_input_audio_wav(client):
    completion = ask(
        client,
        {"type": "input_audio", "input_audio": {"data": wav_base64(), "format": "wav"}},
        {"type": "text", "text": "transcribe the audio"},
    )
    assert completion.choices[0].message.content == "transcribe the audio"


def test_pdf_file_part(client):
    completion = ask(
        client,
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "doc.pdf"}},
        {"type": "text", "text": "summarise the document"},
    )
    assert completion.choices[0].message.content == "summarise the document"


def test_streaming_with_an_image(client):
    stream = client.chat.completions.create(
        model=MODEL,
        stream=True,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "text", "text": "stream about the image"},
                ],
            }
        ],
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "stream about the image"


@pytest.mark.parametrize(
    ("part", "param"),
    [
        # The defaults fetch https only.
        ({"type": "image_url", "image_url": {"url": "http://example.com/cat.png"}}, "messages[0].content[1].image_url.url"),
        # Loopback is refused by default even over https.
        ({"type": "image_url", "image_url": {"url": "https://127.0.0.1/cat.png"}}, "messages[0].content[1].image_url.url"),
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}, "messages[0].content[1].image_url.url"),
        ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "pcm16"}}, "messages[0].content[1].input_audio.format"),
        ({"type": "file", "file": {"file_id": "file-123"}}, "messages[0].content[1].file.file_id"),
    ],
)
def test_refusals_are_400s_naming_the_part(client, part, param):
    with pytest.raises(openai.BadRequestError) as raised:
        ask(client, {"type": "text", "text": "look"}, part)
    assert raised.value.status_code == 400
    assert raised.value.param == param


def test_media_in_a_system_message_is_refused(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
                {"role": "user", "content": "hi"},
            ],
        )
    assert raised.value.param == "messages[0].content[0].type"
