"""Prepares the second emulator, the one that enforces IAM: creates the broker's user (allowed
everything, as Stint's functions are within their own roles) with access keys, then turns
enforcement on. From then on every call must be signed by a known key and is checked against
its identity's policies (actions and explicit denies for every service; resources for IAM, SQS
and STS). Prints the broker's key id and secret on two lines, then one line per member account
(`account:key id:secret`) of an administrator user there, with which the organisation tests set
up each member account as its own administrators would (moto has no other way in once it
enforces)."""
import sys
import urllib.request

import boto3

endpoint = sys.argv[1]
iam = boto3.client(
    "iam",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
iam.create_user(UserName="stint-broker")
iam.put_user_policy(
    UserName="stint-broker",
    PolicyName="broker",
    PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
)
key = iam.create_access_key(UserName="stint-broker")["AccessKey"]

# Member accounts: an administrator in each, made through a role session in that account.
MEMBERS = ["210000000001", "210000000002", "210000000003"]
sts = boto3.client(
    "sts",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
)
members = []
for account in MEMBERS:
    c = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/setup", RoleSessionName="setup"
    )["Credentials"]
    member_iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )
    member_iam.create_user(UserName="member-admin")
    member_iam.put_user_policy(
        UserName="member-admin",
        PolicyName="admin",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
    )
    k = member_iam.create_access_key(UserName="member-admin")["AccessKey"]
    members.append(f"{account}:{k['AccessKeyId']}:{k['SecretAccessKey']}")
req = urllib.request.Request(
    f"{endpoint}/moto-api/reset-auth",
    data=b"0",
    method="POST",
    # A form content type would hide the body from moto.
    headers={"Content-Type": "text/plain"},
)
urllib.request.urlopen(req, timeout=10).read()
print(key["AccessKeyId"])
print(key["SecretAccessKey"])
for line in members:
    print(line)
