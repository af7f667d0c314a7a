import FlashgateCore
import FlashgateTesting
import Foundation
import Testing
import _CryptoExtras

@testable import FlashgateUpstream

@Suite struct VertexAuthJWTTests {
    @Test func jwtHasRS256HeaderClaimsAndAVerifyingSignature() throws {
        let account = try testServiceAccount()
        let jwt = try VertexJWT.sign(
            account: account, audience: "https://oauth2.example.test/token", issuedAt: 1_700_000_000)
        let decoded = try DecodedJWT(jwt)

        #expect(decoded.header["alg"]?.stringValue == "RS256")
        #expect(decoded.header["typ"]?.stringValue == "JWT")
        #expect(decoded.header["kid"]?.stringValue == vertexTestKeyID)
        #expect(decoded.claims["iss"]?.stringValue == vertexTestEmail)
        #expect(decoded.claims["scope"]?.stringValue == "https://www.googleapis.com/auth/cloud-platform")
        #expect(decoded.claims["aud"]?.stringValue == "https://oauth2.example.test/token")
        #expect(decoded.claims["iat"]?.intValue == 1_700_000_000)
        #expect(decoded.claims["exp"]?.intValue == 1_700_003_600)
        #expect(decoded.claims.objectValue?.keys.sorted() == ["aud", "exp", "iat", "iss", "scope"])

        #expect(decoded.verifies(with: vertexTestKey.publicKey))
        let otherKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        #expect(!decoded.verifies(with: otherKey.publicKey))
        var tampered = decoded
        tampered.signingInput += "x"
        #expect(!tampered.verifies(with: vertexTestKey.publicKey))
    }

    @Test func scopeAndLifetimeAreHonouredAndKidIsOmittedWithoutAKeyID() throws {
        let account = try VertexServiceAccount(
            clientEmail: vertexTestEmail, privateKeyPEM: vertexTestKey.pkcs8PEMRepresentation)
        let jwt = try VertexJWT.sign(
            account: account, scope: "https://www.googleapis.com/auth/generative-language", audience: "aud",
            issuedAt: 100, lifetime: 60)
        let decoded = try DecodedJWT(jwt)
        #expect(decoded.header["kid"] == nil)
        #expect(decoded.claims["scope"]?.stringValue == "https://www.googleapis.com/auth/generative-language")
        #expect(decoded.claims["exp"]?.intValue == 160)
        #expect(decoded.verifies(with: vertexTestKey.publicKey))
    }

    @Test func pkcs1KeysAreAcceptedToo() throws {
        #expect(vertexTestKey.pkcs8PEMRepresentation.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let account = try VertexServiceAccount.parse(serviceAccountJSON(pem: vertexTestKey.pemRepresentation))
        let decoded = try DecodedJWT(try VertexJWT.sign(account: account, audience: "aud", issuedAt: 1))
        #expect(decoded.verifies(with: vertexTestKey.publicKey))
    }

    @Test func base64URLRoundTripsEveryLength() {
        #expect(VertexBase64URL.encode(Array("{\"a\":1}".utf8)) == "eyJhIjoxfQ")
        #expect(VertexBase64URL.encode([0xFB, 0xFF]) == "-_8")
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) }
            let text = VertexBase64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(VertexBase64URL.decode(text) == bytes)
            let standard = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            #expect(text == standard)
        }
        #expect(VertexBase64URL.decode("a") == nil)
        #expect(VertexBase64URL.decode("ab+c") == nil)
    }

    @Test func serviceAccountParsesItsFieldsAndHidesTheKey() throws {
        let account = try testServiceAccount()
        #expect(account.clientEmail == vertexTestEmail)
        #expect(account.privateKeyID == vertexTestKeyID)
        #expect(account.tokenURI == "https://oauth2.googleapis.com/token")
        #expect(!"\(account)".contains("PRIVATE"))
        var dumped = ""
        dump(account, to: &dumped)
        #expect(!dumped.contains("PRIVATE") && !dumped.contains("backing"))
    }

    @Test func badServiceAccountFilesAreClearErrorsWithoutKeyMaterial() async throws {
        let pem = vertexTestKey.pkcs8PEMRepresentation
        let body = pem.split(separator: "\n").dropFirst().first.map(String.init) ?? "MII"
        let brokenPEM = "-----BEGIN PRIVATE KEY-----\nTUlJbm90YWtleQ==\n-----END PRIVATE KEY-----\n"
        let cases: [(bytes: [UInt8], expected: String)] = [
            (Array("{not json".utf8), "is not valid JSON"),
            (Array("[1]".utf8), "is not a JSON object"),
            (serviceAccountJSON(type: "authorized_user"), "has type 'authorized_user', expected 'service_account'"),
            (serviceAccountJSON(email: ""), "has an empty client_email"),
            (Array(#"{"type":"service_account","private_key":"x"}"#.utf8), "has no 'client_email' field"),
            (Array(#"{"client_email":"a@b","private_key":42}"#.utf8), "has a 'private_key' that is a number"),
            (serviceAccountJSON(pem: "not a pem at all"), "is not a PEM private key"),
            (serviceAccountJSON(pem: brokenPEM), "not a readable RSA key"),
            (serviceAccountJSON(pem: String(pem.dropLast(200))), "not a readable RSA key"),
        ]
        for (bytes, expected) in cases {
            let error = await flashgateError { _ = try VertexServiceAccount.parse(bytes, source: "file sa.json") }
            #expect(error?.kind == .unavailable)
            #expect(error?.message.contains("file sa.json") == true)
            #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error") lacks '\(expected)'")
            #expect(error?.message.contains(body) == false)
            #expect(error?.message.contains("TUlJbm90") == false)
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct VertexAuthTokenTests {
    /// A token source against FakeGemini's `/token`, through the real CurlTransport.
    private func withTokens(
        clock: ManualUnixClock = ManualUnixClock(1_700_000_000),
        _ body: (VertexServiceAccountTokens, FakeGemini, String) async throws -> Void
    ) async throws {
        try await withTransport { transport, fake in
            let tokenURL = fake.baseURL + "/token"
            let tokens = VertexServiceAccountTokens(
                account: try testServiceAccount(), tokenURL: tokenURL, transport: transport, now: clock.reader)
            try await body(tokens, fake, tokenURL)
        }
    }

    @Test func mintsATokenWithAJWTBearerGrant() async throws {
        try await withTokens { tokens, fake, tokenURL in
            fake.enqueue(grantReply("ya29.first"))
            #expect(try await tokens.token() == "ya29.first")

            let request = try #require(fake.received.first)
            #expect(request.method == "POST")
            #expect(request.path == "/token")
            #expect(request.header("content-type") == "application/x-www-form-urlencoded")
            #expect(
                request.bodyText.hasPrefix(
                    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="))
            let fields = formFields(request.bodyText)
            #expect(fields.keys.sorted() == ["assertion", "grant_type"])
            #expect(fields["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer")

            let jwt = try DecodedJWT(try #require(fields["assertion"]))
            #expect(jwt.verifies(with: vertexTestKey.publicKey))
            #expect(jwt.claims["aud"]?.stringValue == tokenURL)
            #expect(jwt.claims["iss"]?.stringValue == vertexTestEmail)
            #expect(jwt.claims["iat"]?.intValue == 1_700_000_000)
            #expect(jwt.header["kid"]?.stringValue == vertexTestKeyID)
        }
    }

    @Test func cachedTokenIsReusedUntilTheRefreshMargin() async throws {
        let clock = ManualUnixClock(1_700_000_000)
        try await withTokens(clock: clock) { tokens, fake, _ in
            fake.enqueue(grantReply("ya29.first", expiresIn: 3600))
            fake.enqueue(grantReply("ya29.second", expiresIn: 3600))
            #expect(try await tokens.token() == "ya29.first")
            #expect(try await tokens.token() == "ya29.first")
            #expect(fake.requestCount == 1)

            // Expiry is 1_700_003_600; the default margin is 300 s.
            clock.set(1_700_003_299)
            #expect(try await tokens.token() == "ya29.first")
            #expect(fake.requestCount == 1)

            clock.set(1_700_003_300)
            #expect(try await tokens.token() == "ya29.second")
            #expect(fake.requestCount == 2)
            let second = try DecodedJWT(try #require(formFields(fake.received[1].bodyText)["assertion"]))
            #expect(second.claims["iat"]?.intValue == 1_700_003_300)
            #expect(try await tokens.token() == "ya29.second")
            #expect(fake.requestCount == 2)
        }
    }

    @Test func shortLivedTokensAreReusedForHalfTheirLifetime() async throws {
        let clock = ManualUnixClock(1_700_000_000)
        try await withTokens(clock: clock) { (tokens, fake, _) async throws in
            fake.enqueue(grantReply("ya29.brief", expiresIn: 120))
            fake.enqueue(grantReply("ya29.next", expiresIn: 120))
            #expect(try await tokens.token() == "ya29.brief")
            clock.set(1_700_000_059)
            #expect(try await tokens.token() == "ya29.brief")
            #expect(fake.requestCount == 1)
            clock.set(1_700_000_060)
            #expect(try await tokens.token() == "ya29.next")
            #expect(fake.requestCount == 2)
        }
    }

    @Test func concurrentCallersDuringARefreshShareOneRequest() async throws {
        try await withTokens { tokens, fake, _ in
            let gate = FakeGate()
            var reply = grantReply("ya29.shared")
            reply.gate = gate
            fake.enqueue(reply)
            let callers = 20
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<callers { group.addTask { try await tokens.token() } }
                await fake.waitForRequests(1)
                // Every other caller is now parked on the one refresh; no sleeps needed.
                while await tokens.sharedWaits < callers - 1 { await Task.yield() }
                #expect(fake.requestCount == 1)
                gate.open()
                var results: [String] = []
                for try await token in group { results.append(token) }
                #expect(results == Array(repeating: "ya29.shared", count: callers))
            }
            #expect(fake.requestCount == 1)
            #expect(await tokens.refreshCount == 1)
        }
    }

    @Test func invalidateForcesARefresh() async throws {
        try await withTokens { (tokens, fake, _) async throws in
            fake.enqueue(grantReply("ya29.first"))
            fake.enqueue(grantReply("ya29.second"))
            #expect(try await tokens.token() == "ya29.first")
            await tokens.invalidate()
            #expect(try await tokens.token() == "ya29.second")
            #expect(try await tokens.token() == "ya29.second")
            #expect(fake.requestCount == 2)
        }
    }

    @Test func refusalIsAnErrorWithoutTokenOrJWTAndIsNotCached() async throws {
        try await withTokens { tokens, fake, _ in
            fake.enqueue(.json(#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#, status: 400))
            fake.enqueue(.json(#"{"error":"internal_failure"}"#, status: 503))
            fake.enqueue(.json("this is not json"))
            fake.enqueue(.json(#"{"expires_in":3599,"token_type":"Bearer"}"#))
            fake.enqueue(grantReply("ya29.after-failures"))

            let refused = await flashgateError { _ = try await tokens.token() }
            #expect(refused?.kind == .unavailable)
            #expect(refused?.httpStatus == 503)
            #expect(refused?.message == "Vertex token endpoint answered 400 (invalid_grant: Invalid JWT Signature.)")
            let assertion = try #require(formFields(fake.received[0].bodyText)["assertion"])
            let signature = String(try #require(assertion.split(separator: ".").last))
            #expect(refused?.message.contains(signature) == false)
            #expect(refused?.message.contains("eyJ") == false)
            #expect(refused?.message.contains("ya29") == false)
            #expect(refused?.upstreamBody == nil)

            let down = await flashgateError { _ = try await tokens.token() }
            #expect(down?.kind == .upstreamUnreachable)
            #expect(down?.httpStatus == 502)
            #expect(down?.isRetryable == true)
            #expect(down?.message.contains("answered 503 (internal_failure)") == true)

            let garbled = await flashgateError { _ = try await tokens.token() }
            #expect(garbled?.kind == .upstreamProtocol)
            #expect(garbled?.message.contains("not a JSON object") == true)

            let tokenless = await flashgateError { _ = try await tokens.token() }
            #expect(tokenless?.message.contains("without an access_token") == true)

            #expect(try await tokens.token() == "ya29.after-failures")
            #expect(fake.requestCount == 5)
        }
    }

    @Test func anEndpointThatEchoesTheAssertionHasItRedacted() async throws {
        let transport = EchoingTransport(status: 400) { request in
            let assertion = formFields(String(decoding: request.body, as: UTF8.self))["assertion"] ?? ""
            return JSONWriter.encode([
                "error": "invalid_grant", "error_description": .string("bad assertion \(assertion) here"),
            ])
        }
        let tokens = VertexServiceAccountTokens(
            account: try testServiceAccount(), tokenURL: "https://oauth2.example.test/token", transport: transport,
            now: { 1_700_000_000 })
        let error = await flashgateError { _ = try await tokens.token() }
        #expect(error?.message == "Vertex token endpoint answered 400 (invalid_grant: bad assertion <redacted> here)")
    }

    @Test func anUnreachableEndpointIsSaidButNotWhere() async throws {
        try await withTransport { transport, fake in
            let closed = try ClosedPort()  // nothing listens there
            let url = closed.baseURL + "/token"
            let tokens = VertexServiceAccountTokens(
                account: try testServiceAccount(), tokenURL: url, transport: transport, now: { 1_700_000_000 })
            let error = await flashgateError { _ = try await tokens.token() }
            #expect(error?.kind == .upstreamUnreachable)
            #expect(error?.message.hasPrefix("Vertex token endpoint: ") == true)
            #expect(error?.message.contains(String(closed.port)) == false, "\(error?.message ?? "")")
            #expect(fake.requestCount == 0)
        }
    }
}

@Suite struct VertexAuthSourceTests {
    @Test func tokenFileIsReadOnEveryCall() async throws {
        try await TempDirectory.with(prefix: "vtx") { directory in
            let path = directory.file("token")
            let source = VertexTokenFile(path: path)
            let missing = await flashgateError { _ = try await source.token() }
            #expect(missing?.kind == .unavailable)
            #expect(missing?.message == "Vertex credentials: the token file \(path) could not be read")

            try "ya29.from-file-1\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(try await source.token() == "ya29.from-file-1")
            try "  ya29.from-file-2  \n\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(try await source.token() == "ya29.from-file-2")
            await source.invalidate()
            #expect(try await source.token() == "ya29.from-file-2")

            try " \n".write(toFile: path, atomically: true, encoding: .utf8)
            let empty = await flashgateError { _ = try await source.token() }
            #expect(empty?.message == "Vertex credentials: the token file \(path) is empty")
        }
    }

    @Test func staticTokenIsTrimmedAndMustNotBeEmpty() async throws {
        #expect(try await VertexStaticToken(Secret("ya29.env\n")).token() == "ya29.env")
        let empty = await flashgateError { _ = try await VertexStaticToken(Secret("")).token() }
        #expect(empty?.kind == .unavailable)
    }

    @Test func sourceFollowsTheCredentialKind() async throws {
        let transport = EchoingTransport(status: 500) { _ in [] }
        let files: [String: String] = [
            "/sa.json": String(decoding: serviceAccountJSON(), as: UTF8.self),
            "/bad.json": #"{"type":"service_account"}"#,
            "/token.txt": "ya29.file\n",
        ]
        let readFile: @Sendable (String) throws -> String = { path in
            guard let text = files[path] else { throw CocoaError(.fileNoSuchFile) }
            return text
        }
        func source(_ credentials: VertexRouteConfig.Credentials) throws -> (any AccessTokenSource)? {
            try VertexAuth.source(
                for: credentials, tokenURL: "https://oauth2.example.test/token", transport: transport,
                now: { 1_700_000_000 }, readFile: readFile)
        }

        #expect(try source(.expressKey(Secret("AIza-express"))) == nil)
        let fixed = try #require(try source(.token(Secret("ya29.env"))))
        #expect(try await fixed.token() == "ya29.env")
        let file = try #require(try source(.tokenFile(path: "/token.txt")))
        #expect(try await file.token() == "ya29.file")
        let minted = try #require(try source(.serviceAccountFile(path: "/sa.json")) as? VertexServiceAccountTokens)
        #expect(minted.account.clientEmail == vertexTestEmail)
        #expect(minted.tokenURL == "https://oauth2.example.test/token")
        #expect(minted.refreshMargin == 300)

        let absent = await flashgateError { _ = try source(.serviceAccountFile(path: "/nope.json")) }
        #expect(absent?.message == "Vertex credentials: the service account file /nope.json could not be read")
        let broken = await flashgateError { _ = try source(.serviceAccountFile(path: "/bad.json")) }
        #expect(broken?.message == "Vertex credentials: the service account file /bad.json has no 'client_email' field")
    }
}
