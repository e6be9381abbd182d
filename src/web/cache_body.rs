//! The body of a `/cache/...` response: one byte range of a payload file, read in large chunks
//! on the blocking pool, one chunk ahead of the socket, never the whole file in memory.
//!
//! Why not `actix-files`' `NamedFile`: it reads 64 KiB per trip to the blocking pool, and the
//! trips (not the copies) were half of nginx's throughput (BENCHMARKS.md, "Payload cache
//! serving"). Here a chunk is `cache.serve_chunk_bytes` (1 MiB by default) and the next read
//! starts as soon as the previous chunk is handed to the connection, so disk (or page-cache) reads
//! overlap with the writes. A HEAD answer has the same length and no bytes: the file is not read.
//!
//! `sendfile(2)` is not used: actix-web hands a handler no socket, and its HTTP/1 writer copies
//! every body chunk into its own write buffer; over TLS the bytes must pass through user space
//! to be encrypted anyway.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::Bytes;
use tokio::task::JoinHandle;

/// Smallest and largest chunk read at once (the configured size is clamped to these).
pub const MIN_CHUNK: usize = 64 * 1024;
pub const MAX_CHUNK: usize = 16 * 1024 * 1024;

type ReadResult = io::Result<(File, Bytes)>;

/// `length` bytes of `file` from `offset`, as a sized body.
pub struct FileRange {
    length: u64,
    sent: u64,
    chunk: usize,
    state: ReadState,
}

enum ReadState {
    /// The file, positioned where the next read starts (`None` for HEAD or once done).
    Idle(Option<File>),
    Reading(JoinHandle<ReadResult>),
}

impl FileRange {
    /// A body that streams `length` bytes of `file` from `offset`, `chunk` bytes per read.
    pub fn new(mut file: File, offset: u64, length: u64, chunk: usize) -> io::Result<FileRange> {
        file.seek(SeekFrom::Start(offset))?;
        Ok(FileRange {
            length,
            sent: 0,
            chunk: chunk.clamp(MIN_CHUNK, MAX_CHUNK),
            state: ReadState::Idle(Some(file)),
        })
    }

    /// The answer to HEAD: announces `length` bytes and sends none.
    pub fn head(length: u64) -> FileRange {
        FileRange {
            length,
            sent: length,
            chunk: MIN_CHUNK,
            state: ReadState::Idle(None),
        }
    }

    fn start_read(&mut self, file: File) {
        let want = (self.length - self.sent).min(self.chunk as u64);
        self.state = ReadState::Reading(tokio::task::spawn_blocking(move || read_chunk(file, want)));
    }
}

/// Reads exactly `want` bytes into a fresh buffer (not zeroed first: `read_to_end` fills spare
/// capacity directly).
fn read_chunk(mut file: File, want: u64) -> ReadResult {
    let mut buf = Vec::with_capacity(want as usize);
    (&mut file).take(want).read_to_end(&mut buf)?;
    if (buf.len() as u64) < want {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the payload file is shorter than its recorded size",
        ));
    }
    Ok((file, Bytes::from(buf)))
}

impl MessageBody for FileRange {
    type Error = io::Error;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.length)
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, io::Error>>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                ReadState::Idle(file) => {
                    if this.sent >= this.length {
                        return Poll::Ready(None);
                    }
                    let Some(file) = file.take() else {
                        return Poll::Ready(None);
                    };
                    this.start_read(file);
                }
                ReadState::Reading(handle) => {
                    let joined = ready!(Pin::new(handle).poll(cx));
                    let (file, bytes) = match joined {
                        Ok(Ok(read)) => read,
                        Ok(Err(e)) => {
                            this.state = ReadState::Idle(None);
                            return Poll::Ready(Some(Err(e)));
                        }
                        Err(e) => {
                            this.state = ReadState::Idle(None);
                            return Poll::Ready(Some(Err(io::Error::other(e))));
                        }
                    };
                    this.sent += bytes.len() as u64;
                    // Read ahead: the next chunk is read while this one is written.
                    if this.sent < this.length {
                        this.start_read(file);
                    } else {
                        this.state = ReadState::Idle(None);
                    }
                    return Poll::Ready(Some(Ok(bytes)));
                }
            }
        }
    }
}

impl Drop for FileRange {
    fn drop(&mut self) {
        // A client that went away leaves at most one chunk being read; it finishes and is dropped.
        if let ReadState::Reading(handle) = &self.state {
            handle.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    async fn collect(mut body: FileRange) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    fn file_with(data: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(data).unwrap();
        let file = File::open(f.path()).unwrap();
        (f, file)
    }

    #[tokio::test]
    async fn streams_exactly_the_range_across_chunks() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let (_keep, file) = file_with(&data);
        let body = FileRange::new(file, 1000, 200_000, MIN_CHUNK).unwrap();
        assert_eq!(body.size(), BodySize::Sized(200_000));
        assert_eq!(collect(body).await.unwrap(), &data[1000..201_000]);
    }

    #[tokio::test]
    async fn a_short_file_is_an_error_not_a_short_body() {
        let (_keep, file) = file_with(&[7u8; 1000]);
        let body = FileRange::new(file, 0, 5000, MIN_CHUNK).unwrap();
        assert!(collect(body).await.is_err());
    }

    #[tokio::test]
    async fn head_announces_the_length_and_reads_nothing() {
        let body = FileRange::head(12345);
        assert_eq!(body.size(), BodySize::Sized(12345));
        assert!(collect(body).await.unwrap().is_empty());
    }
}
