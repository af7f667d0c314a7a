# Sourced by run.sh and callgrind.sh: the budget miss path's config, one place for both benches.
# A team with a key, rate limits and a hard daily budget, in front of nginx-as-Gemini.
bench_key=fg-bench-key-00000000000000000000

# write_budget_config UPSTREAM_URL FILE
write_budget_config() {
    local hash
    hash=$(printf %s "$bench_key" | sha256sum | cut -d' ' -f1)
    cat >"$2" <<YAML
routes:
  - name: nginx
    kind: gemini
    base_url: $1
    api_key_env: GEMINI_API_KEY
    passthrough: true
teams:
  - id: bench
    max_output_tokens: 256
    limits: {rpm: 100000000, tpm: 100000000, concurrent: 10000}
    budgets:
      - period: day
        limit_usd: "1000000"
keys:
  - name: bench
    team: bench
    hash: sha256:$hash
YAML
}
