import FlashgateCore
import Testing

@testable import FlashgateWire

/// OpenAI content parts beyond text → Gemini parts, and every bad input → 400 naming its field.
@Suite struct ContentPartTests {
    static let png = "iVBORw0KGgo="

    func userParts(_ partsJSON: String) throws -> [JSONValue] {
        let chat = try ChatRequest.translate(
            try JSONParser.parse(#"{"model":"m","messages":[{"role":"user","content":[\#(partsJSON)]}]}"#))
        return chat.gemini["contents"]?[0]?["parts"]?.arrayValue ?? []
    }

    func error(_ messagesJSON: String) -> FlashgateError? {
        do {
            _ = try ChatRequest.translate(try JSONParser.parse(#"{"model":"m","messages":\#(messagesJSON)}"#))
            return nil
        } catch let error as FlashgateError {
            return error
        } catch {
            return nil
        }
    }

    func userError(_ partJSON: String) -> FlashgateError? {
        error(#"[{"role":"user","content":[{"type":"text","text":"look"},\#(partJSON)]}]"#)
    }

    @Test func imageDataURLBecomesInlineData() throws {
        let parts = try userParts(
            #"{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/PNG;base64,\#(Self.png)"}}"#)
        #expect(parts.count == 2)
        #expect(parts[0] == ["text": "what is this"])
        #expect(parts[1] == ["inlineData": ["mimeType": "image/png", "data": .string(Self.png)]])
    }

    @Test func imageURLAsPlainStringIsAccepted() throws {
        let parts = try userParts(#"{"type":"image_url","image_url":"data:image/jpeg;base64,\#(Self.png)"}"#)
        #expect(parts[0]["inlineData"]?["mimeType"] == "image/jpeg")
    }

    @Test func videoDataURLIsInlinedWithItsType() throws {
        let parts = try userParts(#"{"type":"image_url","image_url":{"url":"data:video/mp4;base64,AAAA"}}"#)
        #expect(parts[0] == ["inlineData": ["mimeType": "video/mp4", "data": "AAAA"]])
    }

    @Test func detailMapsToPartMediaResolution() throws {
        let parts = try userParts(
            #"{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"high"}},"#
                + #"{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}},"#
                + #"{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"auto"}}"#)
        #expect(parts[0]["mediaResolution"] == ["level": "MEDIA_RESOLUTION_HIGH"])
        #expect(parts[1]["mediaResolution"] == ["level": "MEDIA_RESOLUTION_LOW"])
        #expect(parts[2]["mediaResolution"] == nil)
    }

    @Test func gcsURLsBecomeFileDataWithAGuessedType() throws {
        let parts = try userParts(
            #"{"type":"image_url","image_url":{"url":"gs://bucket/dir/cat.JPG"}},"#
                + #"{"type":"image_url","image_url":{"url":"gs://bucket/report.pdf"}},"#
                + #"{"type":"image_url","image_url":{"url":"gs://bucket/blob"}}"#)
        #expect(parts[0] == ["fileData": ["fileUri": "gs://bucket/dir/cat.JPG", "mimeType": "image/jpeg"]])
        #expect(parts[1]["fileData"]?["mimeType"] == "application/pdf")
        #expect(parts[2] == ["fileData": ["fileUri": "gs://bucket/blob"]])
    }

    @Test(arguments: [
        "https://www.youtube.com/watch?v=9hE5-98ZeCg", "https://youtube.com/watch?feature=x&v=abc",
        "https://youtu.be/9hE5-98ZeCg", "https://m.youtube.com/shorts/abcdef",
    ])
    func youTubeURLsBecomeFileData(url: String) throws {
        let parts = try userParts(#"{"type":"image_url","image_url":{"url":"\#(url)","detail":"low"}}"#)
        #expect(parts[0]["fileData"] == ["fileUri": .string(url)])
        #expect(parts[0]["mediaResolution"] == ["level": "MEDIA_RESOLUTION_LOW"])
        #expect(parts[0][ChatRequest.pendingMediaKey] == nil)
    }

    @Test func httpsURLsArePendingWithTheirPositionAndField() throws {
        let chat = try ChatRequest.translate(
            try JSONParser.parse(
                #"""
                {"model":"m","messages":[{"role":"user","content":"first"},{"role":"assistant","content":"ok"},
                  {"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"high"}}]},
                  {"role":"user","content":[{"type":"image_url","image_url":"https://youtube.com/not-a-video"}]}]}
                """#))
        let pending = chat.pendingMedia
        #expect(
            pending == [
                PendingMedia(
                    contentIndex: 2, partIndex: 1, url: "https://example.com/a.png", param: "messages[2].content[1].image_url.url"),
                PendingMedia(
                    contentIndex: 2, partIndex: 2, url: "https://youtube.com/not-a-video", param: "messages[3].content[0].image_url"),
            ])
        var filled = chat
        filled.fillMedia([(pending[0], FetchedMedia(mimeType: "image/png", bytes: [1, 2, 3]))])
        let part = filled.gemini["contents"]?[2]?["parts"]?[1]
        #expect(part?["inlineData"] == ["mimeType": "image/png", "data": "AQID"])
        #expect(part?["mediaResolution"] == ["level": "MEDIA_RESOLUTION_HIGH"])
        #expect(part?[ChatRequest.pendingMediaKey] == nil)
        #expect(part?.objectValue?.keys == ["inlineData", "mediaResolution"])
        #expect(filled.pendingMedia == [pending[1]])
    }

    @Test(arguments: [("wav", "audio/wav"), ("mp3", "audio/mp3"), ("flac", "audio/flac"), ("ogg", "audio/ogg")])
    func inputAudioBecomesInlineData(format: String, mimeType: String) throws {
        let parts = try userParts(#"{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"\#(format)"}}"#)
        #expect(parts[0] == ["inlineData": ["mimeType": .string(mimeType), "data": "UklGRg=="]])
    }

    @Test func fileDataURLBecomesInlineData() throws {
        let parts = try userParts(
            #"{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"a.pdf"}},"#
                + #"{"type":"file","file":{"file_data":"JVBERi0=","filename":"b.PDF"}}"#)
        #expect(parts[0] == ["inlineData": ["mimeType": "application/pdf", "data": "JVBERi0="]])
        #expect(parts[1] == ["inlineData": ["mimeType": "application/pdf", "data": "JVBERi0="]])
    }

    @Test(arguments: [
        // (part, param the 400 names)
        (#"{"type":"image_url","image_url":{"url":"data:image/png;base64,not base64!"}}"#, "messages[0].content[1].image_url.url"),
        (#"{"type":"image_url","image_url":{"url":"data:;base64,AAAA"}}"#, "messages[0].content[1].image_url.url"),
        (#"{"type":"image_url","image_url":{"url":"data:image/png,rawtext"}}"#, "messages[0].content[1].image_url.url"),
        (#"{"type":"image_url","image_url":{"url":"data:image/png;base64,A"}}"#, "messages[0].content[1].image_url.url"),
        (#"{"type":"image_url","image_url":{"url":"data:image/png;base64,"}}"#, "messages[0].content[1].image_url.url"),
        (#"{"type":"image_url","image_url":"data:image/png;base64,A=A="}"#, "messages[0].content[1].image_url"),
        (#"{"type":"image_url","image_url":{"url":"ftp://host/x.png"}}"#, "messages[0].content[1].image_url.url"),
        (#"{"type":"image_url","image_url":{"url":"/local/file.png"}}"#, "messages[0].content[1].image_url.url"),
        (#"{"type":"image_url","image_url":{"url":5}}"#, "messages[0].content[1].image_url.url"),
        (#"{"type":"image_url","image_url":{}}"#, "messages[0].content[1].image_url.url"),
        (#"{"type":"image_url"}"#, "messages[0].content[1].image_url"),
        (#"{"type":"image_url","image_url":[1]}"#, "messages[0].content[1].image_url"),
        (#"{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"ultra"}}"#, "messages[0].content[1].image_url.detail"),
        (#"{"type":"input_audio","input_audio":{"data":"AAAA","format":"pcm16"}}"#, "messages[0].content[1].input_audio.format"),
        (#"{"type":"input_audio","input_audio":{"data":"AAAA"}}"#, "messages[0].content[1].input_audio.format"),
        (#"{"type":"input_audio","input_audio":{"data":"%%%%","format":"wav"}}"#, "messages[0].content[1].input_audio.data"),
        (#"{"type":"input_audio","input_audio":{"format":"wav"}}"#, "messages[0].content[1].input_audio.data"),
        (#"{"type":"input_audio","input_audio":"AAAA"}"#, "messages[0].content[1].input_audio"),
        (#"{"type":"file","file":{"file_id":"file-abc"}}"#, "messages[0].content[1].file.file_id"),
        (#"{"type":"file","file":{"filename":"a.pdf"}}"#, "messages[0].content[1].file.file_data"),
        (#"{"type":"file","file":{"file_data":"JVBERi0="}}"#, "messages[0].content[1].file.file_data"),
        (#"{"type":"file","file":{"file_data":"data:application/pdf;base64,###"}}"#, "messages[0].content[1].file.file_data"),
        (#"{"type":"file"}"#, "messages[0].content[1].file"),
        (#"{"type":"video","video":{}}"#, "messages[0].content[1].type"),
    ])
    func badPartsAre400sNamingTheField(part: String, param: String) {
        let error = userError(part)
        #expect(error?.httpStatus == 400)
        #expect(error?.param == param, "\(error?.message ?? "no error")")
    }

    @Test func mediaOutsideUserMessagesIsRefused() {
        let image = #"{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}"#
        for role in ["system", "developer", "assistant"] {
            let error = error(#"[{"role":"\#(role)","content":[\#(image)]},{"role":"user","content":"hi"}]"#)
            #expect(error?.param == "messages[0].content[0].type")
            #expect(error?.message.contains("only in user messages") == true)
        }
    }

    @Test func base64Validation() {
        #expect(Base64.isValid("AAAA"))
        #expect(Base64.isValid("AAA="))
        #expect(Base64.isValid("AA=="))
        #expect(Base64.isValid("AAA"))  // unpadded
        #expect(Base64.isValid("+/09azAZ"))
        #expect(!Base64.isValid(""))
        #expect(!Base64.isValid("===="))
        #expect(!Base64.isValid("A"))
        #expect(!Base64.isValid("AA=A"))
        #expect(!Base64.isValid("AA==="))
        #expect(!Base64.isValid("AA-_"))
        #expect(!Base64.isValid("AA A"))
    }
}
