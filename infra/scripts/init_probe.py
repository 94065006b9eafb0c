"""Init of one function binary: process start to its first `/invocation/next` poll, against the
emulator, with the catalog from a file and a fresh events table each start (so each start
records the catalog: one Query, one PutItem). A lighter stand-in for `--bench cold_start` (no
Rust harness to build, no sample events): the Runtime API here only accepts the first poll.

    STINT_VENV=... RUNS=5 infra/scripts/with-moto.sh "$STINT_VENV/bin/python" \
        infra/scripts/init_probe.py <target>/lambda/stint-grant [strace-output]

Prints one line per start. With a second argument the binary runs under `strace -f -tt`;
`X_<NAME>=value` in the environment passes `<NAME>=value` to the function.
"""
import os, socket, subprocess, sys, threading, time, uuid
import boto3
endpoint = os.environ["STINT_TEST_AWS_ENDPOINT"]
binary, trace = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
runs = int(os.environ.get("RUNS", "1"))
ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
for r in range(runs):
    table = "stint-" + uuid.uuid4().hex[:12]
    ddb.create_table(TableName=table,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in
                              [("stream","S"),("version","N"),("day","S"),("log_sk","S")]],
        KeySchema=[{"AttributeName":"stream","KeyType":"HASH"},{"AttributeName":"version","KeyType":"RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName":"by_day","KeySchema":[{"AttributeName":"day","KeyType":"HASH"},{"AttributeName":"log_sk","KeyType":"RANGE"}],"Projection":{"ProjectionType":"ALL"}}],
        BillingMode="PAY_PER_REQUEST")
    srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(5)
    port = srv.getsockname()[1]
    group = "stint"
    tarn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
    prot = ",".join([tarn, tarn + "/*",
        f"arn:aws:scheduler:us-east-1:123456789012:schedule-group/{group}",
        f"arn:aws:scheduler:us-east-1:123456789012:schedule/{group}/*",
        "arn:aws:lambda:us-east-1:123456789012:function:stint-grant",
        "arn:aws:lambda:us-east-1:123456789012:function:stint-revoke",
        "arn:aws:iam::123456789012:role/stint-scheduler"])
    env = {"PATH": os.environ["PATH"], "AWS_LAMBDA_FUNCTION_NAME": os.path.basename(binary),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/x", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_FORMAT": "JSON", "STINT_TABLE": table, "STINT_SCHEDULE_GROUP": group,
        "STINT_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/stint-scheduler",
        "STINT_GRANT_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:stint-grant",
        "STINT_REVOKE_FUNCTION_ARN": "arn:aws:lambda:us-east-1:123456789012:function:stint-revoke",
        "STINT_PROTECTED_RESOURCES": prot,
        "STINT_CATALOG_FILE": os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "catalog.example.toml"),
        "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "STINT_REPORT_RECIPIENTS": "a@example.com", "STINT_REPORT_SENDER": "s@example.com",
        "STINT_REPORT_BUCKET": "b", "STINT_CHECKPOINT_KEY_ID": "k", "STINT_BUS": "stint"}
    env.update({k[len("X_"):]: v for k, v in os.environ.items() if k.startswith("X_")})
    cmd = [binary]
    if trace:
        cmd = ["strace", "-f", "-tt", "-s", "200", "-o", trace] + cmd
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    srv.settimeout(20)
    try:
        conn, _ = srv.accept()
        t1 = time.monotonic()
        print(f"{os.path.basename(binary)} init {1000*(t1-t0):.1f} ms")
        conn.close()
    except socket.timeout:
        print("no poll within 20 s")
    p.kill(); out = p.communicate()[0].decode()
    if os.environ.get("SHOWLOG"): print(out[:3000])
    srv.close()
