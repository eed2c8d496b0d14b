use hindcast::Store;
fn main() {
    let mut s = Store::new();
    let t = std::time::Instant::now();
    let mut versions = vec![-1i64; 1000];
    for i in 0..100_000 {
        let k = i % 1000;
        let v = versions[k];
        let exp = if v < 0 { "\"no_stream\"".to_string() } else { format!("{{\"version\":{v}}}") };
        let req = format!("{{\"events\":[{{\"stream\":\"stream-{k}\",\"type\":\"money_deposited\",\"data\":{{\"amount\":30,\"note\":\"x\"}}}}],\"expect\":{{\"stream-{k}\":{exp}}}}}");
        let c = s.transact(&req, 0.0).unwrap();
        std::hint::black_box(s.commit_json(&c));
        versions[k] = v + 1;
    }
    println!("{:?} per transact", t.elapsed() / 100_000);
}
