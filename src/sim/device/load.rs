//! A fleet of simulated devices as a load generator: enroll N devices at a given concurrency,
//! then replay signed `Idle` connects and measure throughput and latency percentiles.
//!
//! The `Idle` body of a device never changes and its signature carries no signing time, so each
//! device signs it once and replays it: the figures measure the server, not the generator's RSA.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::profile::{DeviceProfile, Platform};
use super::transport::CONNECT_CONTENT_TYPE;
use super::{SimDevice, SimError};
use crate::pki::keys::RsaKey;

/// One request replayed by the load generator.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub url: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub signature: Option<String>,
}

impl SimDevice {
    /// This device's signed `Idle`, ready to replay.
    pub fn prepared_idle(&self) -> Result<PreparedRequest, SimError> {
        let enrolled = self.enrolled()?;
        let body = self.idle_body();
        let signature = enrolled.identity.sign(&body, self.signature_digest)?;
        Ok(PreparedRequest {
            url: enrolled.server_url.clone(),
            content_type: CONNECT_CONTENT_TYPE,
            body,
            signature: Some(signature),
        })
    }
}

/// When a load run ends.
#[derive(Debug, Clone, Copy)]
pub enum LoadStop {
    /// After this many requests per prepared request.
    Rounds(usize),
    /// After this long.
    Duration(Duration),
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub requests: usize,
    /// Transport failures and non-2xx answers.
    pub errors: usize,
    /// 2xx answers with a body (a command instead of "nothing to do").
    pub with_body: usize,
    pub elapsed: Duration,
    /// Latency of every answered request (any status), sorted.
    pub latencies: Vec<Duration>,
}

impl LoadReport {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-th percentile (0–100) of the latencies.
    pub fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }

    /// `N requests in S s: R/s, p50 …, p90 …, p99 …, max …`.
    pub fn summary(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "{} requests in {:.2} s: {:.0}/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} errors",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            ms(self.percentile(50.0)),
            ms(self.percentile(90.0)),
            ms(self.percentile(99.0)),
            ms(self.latencies.last().copied().unwrap_or_default()),
            self.errors,
        )
    }
}

/// The `p`-th percentile (nearest rank) of sorted `values`.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Replays `requests` round-robin from `concurrency` workers until `stop`.
pub async fn run_load(
    client: &reqwest::Client,
    requests: Arc<Vec<PreparedRequest>>,
    concurrency: usize,
    stop: LoadStop,
) -> LoadReport {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let (limit, deadline) = match stop {
        LoadStop::Rounds(rounds) => (rounds.saturating_mul(requests.len()), None),
        LoadStop::Duration(d) => (usize::MAX, Some(started + d)),
    };
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (client, requests, next) = (client.clone(), requests.clone(), next.clone());
            tokio::spawn(async move {
                let mut tally = (Vec::new(), 0usize, 0usize, 0usize);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= limit || deadline.is_some_and(|d| Instant::now() >= d) || requests.is_empty() {
                        return tally;
                    }
                    let r = &requests[i % requests.len()];
                    let t0 = Instant::now();
                    tally.3 += 1;
                    match send(&client, r).await {
                        Ok((status, body_len)) => {
                            tally.0.push(t0.elapsed());
                            if (200..300).contains(&status) {
                                tally.2 += usize::from(body_len > 0);
                            } else {
                                tally.1 += 1;
                            }
                        }
                        Err(_) => tally.1 += 1,
                    }
                }
            })
        })
        .collect();
    let mut report = LoadReport {
        requests: 0,
        errors: 0,
        with_body: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for worker in workers {
        match worker.await {
            Ok((latencies, errors, with_body, sent)) => {
                report.requests += sent;
                report.latencies.extend(latencies);
                report.errors += errors;
                report.with_body += with_body;
            }
            Err(_) => report.errors += 1,
        }
    }
    report.elapsed = started.elapsed();
    report.latencies.sort_unstable();
    report
}

async fn send(client: &reqwest::Client, r: &PreparedRequest) -> Result<(u16, usize), SimError> {
    let mut request = client
        .put(&r.url)
        .header(reqwest::header::CONTENT_TYPE, r.content_type)
        .body(r.body.clone());
    if let Some(signature) = &r.signature {
        request = request.header("Mdm-Signature", signature.as_str());
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    Ok((status, body.len()))
}

/// What to enroll.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    pub base_url: String,
    pub ca_der: Vec<u8>,
    pub token: Option<String>,
    pub devices: usize,
    pub concurrency: usize,
    /// Distinct RSA keys shared round-robin by the devices (0: a fresh key per device, as real
    /// devices have; generating 2048-bit keys costs the generator 0.2–0.6 s each).
    pub key_pool: usize,
}

/// An enrolled fleet and how long enrolling took (SCEP + Authenticate + TokenUpdate).
pub struct Fleet {
    pub devices: Vec<SimDevice>,
    pub elapsed: Duration,
}

impl Fleet {
    pub fn per_second(&self) -> f64 {
        self.devices.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Every device's signed `Idle`.
    pub fn prepared_idles(&self) -> Result<Arc<Vec<PreparedRequest>>, SimError> {
        let all = self
            .devices
            .iter()
            .map(SimDevice::prepared_idle)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(all))
    }

    /// Runs each device's command loop once (the commands queued at enrollment), `concurrency`
    /// at a time; returns how many commands were answered.
    pub async fn drain(&mut self, concurrency: usize) -> Result<usize, SimError> {
        let devices = std::mem::take(&mut self.devices);
        let (devices, counts) = for_each_device(devices, concurrency, |mut device| async move {
            let result = device.run_command_loop().await.map(|h| h.len());
            (device, result)
        })
        .await?;
        self.devices = devices;
        Ok(counts.into_iter().sum())
    }
}

/// Platforms of a mixed fleet, in turn: mostly iPads and iPhones, some Macs and Apple TVs.
fn platform_for(i: usize) -> Platform {
    match i % 10 {
        0..=3 => Platform::Ipad,
        4..=6 => Platform::Iphone,
        7 | 8 => Platform::Mac,
        _ => Platform::AppleTv,
    }
}

/// Enrolls `spec.devices` devices through the real profile and SCEP, `spec.concurrency` at a
/// time. Keys are made before the clock starts.
pub async fn enroll_fleet(client: &reqwest::Client, spec: &FleetSpec) -> Result<Fleet, SimError> {
    let pool_size = if spec.key_pool == 0 {
        spec.devices
    } else {
        spec.key_pool
    };
    let keys = generate_keys(pool_size.min(spec.devices).max(1)).await?;
    // The profile is fetched once per device, as each device downloads its own.
    let devices: Vec<SimDevice> = (0..spec.devices)
        .map(|i| {
            let mut device = SimDevice::new(
                DeviceProfile::for_platform(platform_for(i)),
                client.clone(),
                spec.ca_der.clone(),
            );
            device.use_key(keys[i % keys.len()].clone());
            device
        })
        .collect();
    let started = Instant::now();
    let (base, token) = (spec.base_url.clone(), spec.token.clone());
    let (devices, _) = for_each_device(devices, spec.concurrency, move |mut device| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            let result = device.enroll(&base, token.as_deref()).await;
            (device, result)
        }
    })
    .await?;
    Ok(Fleet {
        devices,
        elapsed: started.elapsed(),
    })
}

/// `n` fresh 2048-bit keys, made on the blocking pool.
pub async fn generate_keys(n: usize) -> Result<Vec<Arc<RsaKey>>, SimError> {
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::task::spawn_blocking(RsaKey::generate_2048))
        .collect();
    let mut keys = Vec::with_capacity(n);
    for task in tasks {
        keys.push(Arc::new(task.await.map_err(|e| SimError::Task(e.to_string()))??));
    }
    Ok(keys)
}

/// Runs `f` on every device, `concurrency` at a time on spawned tasks; the first error wins.
async fn for_each_device<F, Fut, T>(
    devices: Vec<SimDevice>,
    concurrency: usize,
    f: F,
) -> Result<(Vec<SimDevice>, Vec<T>), SimError>
where
    F: Fn(SimDevice) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = (SimDevice, Result<T, SimError>)> + Send,
    T: Send + 'static,
{
    let queue: Arc<Mutex<VecDeque<SimDevice>>> = Arc::new(Mutex::new(devices.into()));
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (queue, f) = (queue.clone(), f.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                    let Some(device) = next else { return Ok(done) };
                    let (device, result) = f(device).await;
                    done.push((device, result?));
                }
            })
        })
        .collect();
    let mut devices = Vec::new();
    let mut values = Vec::new();
    for worker in workers {
        let done: Result<Vec<(SimDevice, T)>, SimError> =
            worker.await.map_err(|e| SimError::Task(e.to_string()))?;
        for (device, value) in done? {
            devices.push(device);
            values.push(value);
        }
    }
    Ok((devices, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&values, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&values, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&values[..1], 99.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn a_fleet_mixes_platforms() {
        let platforms: Vec<Platform> = (0..10).map(platform_for).collect();
        for p in [Platform::Iphone, Platform::Ipad, Platform::Mac, Platform::AppleTv] {
            assert!(platforms.contains(&p));
        }
    }
}
