//! `vigil run` replicas sharing a directory's targets: each holds the leases of
//! its share, a target is written by one replica at a time, and a replica that
//! dies has its targets taken over (with their fencing tokens moving on) once
//! their leases run out. Three accounts in two regions on moto; the leases and
//! the inventories in one S3 bucket of the base account.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::controller::Running;
use crate::targets::{REGIONS, alarms, fleet, live, targets};

const BUCKET: &str = "vigil-state";

/// The targets a replica's `/status` says it holds.
fn held(s: &Value) -> BTreeSet<String> {
    s["replica"]["held"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Per target: this replica's status of it.
fn per_target(s: &Value) -> BTreeMap<String, Value> {
    s["targets"]
        .as_array()
        .unwrap_or_else(|| panic!("no targets[] in {s:#}"))
        .iter()
        .map(|t| (t["target"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

/// Whether a replica applied every target it holds, successfully, and stands
/// by for every other.
fn applied_all_held(s: &Value) -> bool {
    let mine = held(s);
    per_target(s).iter().all(|(k, t)| {
        if mine.contains(k) {
            t["lastCycle"]["mode"] == "apply" && t["lastCycle"]["outcome"] == "success"
        } else {
            t["standby"] == true
        }
    })
}

async fn object(s3: &aws_sdk_s3::Client, key: &str) -> Value {
    let out = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("s3://{BUCKET}/{key}: {e:?}"));
    let body = out.body.collect().await.unwrap().into_bytes();
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn two_replicas_share_six_targets_and_one_takes_over_when_the_other_dies() {
    let (lab, others, accounts) = fleet().await;
    let labs = [&lab, &others[0], &others[1]];
    // The platform's topic: the base account, in us-east-1.
    let topic = aws_sdk_sns::Client::new(&lab.sdk().await)
        .create_topic()
        .name("fleet-events")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    lab.write(
        "settings.yaml",
        &format!(
            "apiVersion: vigil/v1\nkind: Settings\nmetadata: {{name: default}}\nspec:\n  \
             inventory: {{s3: {{bucket: {BUCKET}, key: vigil/inventory.json}}}}\n  \
             lease: {{s3: {{bucket: {BUCKET}, key: vigil/lease.json}}}}\n  \
             notifications: {{topicArn: \"{topic}\"}}\n"
        ),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&lab.sdk().await)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();

    let args = ["--lease-duration", "3s", "--interval", "1s"];
    let a = Running::start(&lab, &args, &[]);
    let b = Running::start(&lab, &args, &[]);
    // Both count two replicas, each holds its share of three, and has applied it.
    let settled =
        |s: &Value| s["replica"]["replicas"] == 2 && held(s).len() == 3 && applied_all_held(s);
    let within = Duration::from_secs(60);
    let sa = a.wait_status("replica a holding its share", within, settled);
    let sb = b.wait_status("replica b holding its share", within, settled);
    let (ha, hb) = (held(&sa), held(&sb));
    assert!(
        ha.is_disjoint(&hb),
        "a {ha:?} and b {hb:?} hold the same target"
    );
    assert_eq!(ha.union(&hb).count(), 6);
    assert_eq!(sa["replica"]["share"], 3, "{sa:#}");

    // Every target got its alarms, each from exactly one replica.
    for (i, l) in labs.iter().enumerate() {
        for region in REGIONS {
            let names: Vec<String> = live(l, region).await.into_iter().map(|a| a.0).collect();
            let expected = if i < 2 { 2 } else { 1 };
            assert_eq!(names.len(), expected, "team{i} in {region}: {names:?}");
        }
    }
    // One bucket, in the base account, holds every target's inventory and lease.
    for (i, account) in accounts.iter().enumerate() {
        for region in REGIONS {
            let inv = object(&s3, &format!("vigil/inventory-{account}-{region}.json")).await;
            let n = inv["resources"].as_object().map_or(0, |r| r.len());
            assert_eq!(n, if i < 2 { 2 } else { 1 }, "{inv:#}");
        }
    }
    let (sa, sb) = (a.status(), b.status());
    let (ta, tb) = (per_target(&sa), per_target(&sb));
    for key in ta.keys() {
        let wrote = |t: &Value| t["apiCalls"]["writes"].as_u64().unwrap_or(0) > 0;
        assert!(
            !(wrote(&ta[key]) && wrote(&tb[key])),
            "{key} written by both replicas:\n{:#}\n{:#}",
            ta[key],
            tb[key]
        );
        // A target held elsewhere costs this replica nothing.
        for (s, t) in [(&sa, &ta[key]), (&sb, &tb[key])] {
            if !held(s).contains(key) {
                assert_eq!(t["standby"], true, "{t:#}");
            }
        }
    }
    let (_, metrics) = a.get("/metrics");
    for needle in [
        "vigil_replicas 2\n",
        "vigil_targets_held 3\n",
        "vigil_leader{target=\"team0/us-east-1\"}",
        "vigil_reconcile_total{target=\"team2/eu-west-1\",outcome=\"success\"}",
    ] {
        assert!(metrics.contains(needle), "{needle} missing:\n{metrics}");
    }

    // The tokens of a's leases, then kill -9: its leases are not released.
    let lease_key = |k: &str| {
        let (name, region) = k.split_once('/').unwrap();
        let i: usize = name.trim_start_matches("team").parse().unwrap();
        format!("vigil/lease-{}-{region}.json", accounts[i])
    };
    let mut before = BTreeMap::new();
    for k in &ha {
        let doc = object(&s3, &lease_key(k)).await;
        assert_eq!(doc["holder"], sa["replica"]["id"], "{doc:#}");
        before.insert(k.clone(), doc["token"].as_u64().unwrap());
    }
    let killed = Instant::now();
    drop(a); // SIGKILL
    let sb = b.wait_status(
        "replica b taking every target over",
        Duration::from_secs(30),
        |s| held(s).len() == 6 && applied_all_held(s),
    );
    let took = killed.elapsed();
    eprintln!("replica b took replica a's targets over {took:?} after the kill");
    assert_eq!(sb["replica"]["replicas"], 1, "{sb:#}");
    // Not before the leases ran out: 3 s after a's last renewal, which came at
    // most a renewal period (1 s) before the kill; and soon after.
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(15),
        "taken over after {took:?}"
    );
    for (k, token) in &before {
        let doc = object(&s3, &lease_key(k)).await;
        assert_eq!(doc["holder"], sb["replica"]["id"], "{k}: {doc:#}");
        assert_eq!(doc["token"], token + 1, "{k}: the fencing token moves on");
    }

    // A change to the shared alarm reaches all six targets through the survivor.
    lab.write("alarms.yaml", &alarms(90));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut thresholds = Vec::new();
        for l in labs {
            for region in REGIONS {
                thresholds.push(live(l, region).await[0].1);
            }
        }
        if thresholds.iter().all(|t| *t == 90.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "thresholds {thresholds:?}; status:\n{:#}\nlog:\n{}",
            b.status(),
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let s = b.status();
    for (k, t) in per_target(&s) {
        assert_eq!(t["leader"], true, "{k}: {t:#}");
    }

    // An alarm deleted in another account and region is put back, and the event
    // reaches the platform's topic in the base account, published with the base credentials.
    let cw = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&others[1].sdk().await)
            .region(aws_config::Region::new("eu-west-1"))
            .build(),
    );
    cw.delete_alarms()
        .alarm_names("fleet-cpu")
        .send()
        .await
        .unwrap();
    let s = b.wait_status("the drift published", Duration::from_secs(30), |s| {
        per_target(s)["team2/eu-west-1"]["notifications"]["published"]
            .as_u64()
            .is_some_and(|n| n >= 1)
    });
    let t = &per_target(&s)["team2/eu-west-1"];
    assert_eq!(t["notifications"]["failed"], 0, "{t:#}");
    assert_eq!(live(&others[1], "eu-west-1").await.len(), 1, "put back");
}

#[tokio::test]
async fn vigil_run_with_target_works_on_those_targets_only() {
    let (lab, others, _) = fleet().await;
    let run = Running::start(&lab, &["--target", "team1", "--interval", "1s"], &[]);
    let s = run.wait_status("team1 applied", Duration::from_secs(60), |s| {
        held(s).len() == 2 && applied_all_held(s)
    });
    let ts = per_target(&s);
    assert_eq!(
        ts.keys().map(String::as_str).collect::<Vec<_>>(),
        ["team1/eu-west-1", "team1/us-east-1"]
    );
    for region in REGIONS {
        assert_eq!(live(&others[0], region).await.len(), 2, "team1 in {region}");
        assert!(live(&lab, region).await.is_empty(), "team0 untouched");
        assert!(live(&others[1], region).await.is_empty(), "team2 untouched");
    }
}

#[tokio::test]
async fn a_commit_that_adds_a_target_reaches_the_targets_already_running_at_once() {
    let (lab, others, accounts) = fleet().await;
    let docs: Vec<String> = targets(&accounts)
        .split("---\n")
        .filter(|d| !d.is_empty())
        .map(|d| format!("---\n{d}"))
        .collect();
    lab.write("targets.yaml", &docs[1]);
    let run = Running::start(&lab, &["--interval", "60s"], &[]);
    run.wait_status("team1 applied", Duration::from_secs(60), |s| {
        held(s).len() == 2 && applied_all_held(s)
    });
    // team0 comes first in the file; team1 runs already and must see the new threshold now,
    // not at its next interval.
    lab.write("targets.yaml", &format!("{}{}", docs[0], docs[1]));
    lab.write("alarms.yaml", &alarms(90));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut found = Vec::new();
        for l in [&lab, &others[0]] {
            for region in REGIONS {
                found.push(live(l, region).await.first().map(|a| a.1));
            }
        }
        if found.iter().all(|t| *t == Some(90.0)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "thresholds {found:?}:\n{:#}",
            run.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
