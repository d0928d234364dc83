//! Pagination as [`Stream`]s: each yields items in order and ends after the
//! last page (or after the first error).

use std::collections::VecDeque;
use std::pin::Pin;

use clickclack_proto::{
    ChannelId, ConversationId, Cursor, Event, Message, MessageId, SearchResult, WorkspaceId,
    WorkspaceMember,
};
use futures_core::Stream;

use crate::client::Client;
use crate::endpoints::messages::PageRequest;
use crate::endpoints::search::SearchQuery;
use crate::endpoints::threads::ThreadQuery;
use crate::endpoints::workspaces::MembersQuery;
use crate::error::Error;

/// A boxed stream of items (or the error that ended it).
pub type Paginated<T> = Pin<Box<dyn Stream<Item = Result<T, Error>> + Send + 'static>>;

/// The direction of a history stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum History {
    /// Oldest first, starting after this sequence number (exclusive; `0` for
    /// the beginning).
    ForwardFrom(i64),
    /// Newest first, starting at the newest message.
    BackwardFromNewest,
}

/// What to fetch next.
enum Next<C> {
    Page(C),
    Done,
}

/// Generic pager: `fetch(cursor)` returns items and the next cursor.
fn paginate<T, C, F, Fut>(first: C, fetch: F) -> Paginated<T>
where
    T: Send + 'static,
    C: Send + 'static,
    F: Fn(C) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<C>), Error>> + Send + 'static,
{
    let state = (VecDeque::<T>::new(), Next::Page(first), fetch);
    Box::pin(futures_util::stream::unfold(
        state,
        |(mut buf, mut next, fetch)| async move {
            loop {
                if let Some(item) = buf.pop_front() {
                    return Some((Ok(item), (buf, next, fetch)));
                }
                let cursor = match std::mem::replace(&mut next, Next::Done) {
                    Next::Page(c) => c,
                    Next::Done => return None,
                };
                match fetch(cursor).await {
                    Ok((items, following)) => {
                        next = match following {
                            Some(c) if !items.is_empty() => Next::Page(c),
                            _ => Next::Done,
                        };
                        buf.extend(items);
                    }
                    Err(e) => return Some((Err(e), (buf, Next::Done, fetch))),
                }
            }
        },
    ))
}

enum Target {
    Channel(ChannelId),
    Dm(ConversationId),
}

fn history(
    client: &Client,
    target: Target,
    direction: History,
    page_size: u32,
) -> Paginated<Message> {
    let client = client.clone();
    let target = std::sync::Arc::new(target);
    let first = match direction {
        History::ForwardFrom(seq) => PageRequest::after(seq),
        History::BackwardFromNewest => PageRequest::latest(),
    }
    .with_limit(page_size);
    let forward = matches!(direction, History::ForwardFrom(_));
    paginate(first, move |req: PageRequest| {
        let client = client.clone();
        let target = target.clone();
        async move {
            let page = match &*target {
                Target::Channel(c) => client.list_messages(c, &req).await?,
                Target::Dm(d) => client.list_dm_messages(d, &req).await?,
            };
            if forward {
                let next = page
                    .messages
                    .iter()
                    .filter_map(|m| m.channel_seq)
                    .max()
                    .or(page.newest_seq)
                    .filter(|_| page.has_newer)
                    .map(|seq| PageRequest::after(seq).with_limit(page_size));
                Ok((page.messages, next))
            } else {
                let next = page
                    .messages
                    .iter()
                    .filter_map(|m| m.channel_seq)
                    .min()
                    .or(page.oldest_seq)
                    .filter(|_| page.has_older)
                    .map(|seq| PageRequest::before(seq).with_limit(page_size));
                let mut items = page.messages;
                items.reverse();
                Ok((items, next))
            }
        }
    })
}

impl Client {
    /// Root messages of a channel as a stream, paging `page_size` at a time
    /// (forward: ascending `channel_seq`; backward: descending).
    pub fn message_history(
        &self,
        channel: &ChannelId,
        direction: History,
        page_size: u32,
    ) -> Paginated<Message> {
        history(self, Target::Channel(channel.clone()), direction, page_size)
    }

    /// Root messages of a DM as a stream (see [`Client::message_history`]).
    pub fn dm_history(
        &self,
        conversation: &ConversationId,
        direction: History,
        page_size: u32,
    ) -> Paginated<Message> {
        history(self, Target::Dm(conversation.clone()), direction, page_size)
    }

    /// All replies of a thread, oldest first, paging with `after_seq`.
    pub fn thread_replies(&self, root: &MessageId, page_size: u32) -> Paginated<Message> {
        let client = self.clone();
        let root = root.clone();
        let first = ThreadQuery {
            limit: Some(page_size),
            ..ThreadQuery::default()
        };
        paginate(first, move |q: ThreadQuery| {
            let client = client.clone();
            let root = root.clone();
            async move {
                let page = client.get_thread(&root, &q).await?;
                let next = page
                    .replies
                    .iter()
                    .filter_map(|m| m.thread_seq)
                    .max()
                    .or(page.newest_seq)
                    .filter(|_| page.has_newer)
                    .map(|seq| ThreadQuery {
                        limit: Some(page_size),
                        after_seq: Some(seq),
                        ..ThreadQuery::default()
                    });
                Ok((page.replies, next))
            }
        })
    }

    /// Durable events after `after` (exclusive; `None`: the whole retained
    /// log), ascending, until a page comes back empty.
    pub fn events_after(
        &self,
        workspace: &WorkspaceId,
        after: Option<Cursor>,
        page_size: u32,
    ) -> Paginated<Event> {
        let client = self.clone();
        let workspace = workspace.clone();
        paginate(after, move |after: Option<Cursor>| {
            let client = client.clone();
            let workspace = workspace.clone();
            async move {
                let page = client
                    .events_page(&workspace, after.as_ref(), Some(page_size), false)
                    .await?;
                let last = page
                    .events
                    .iter()
                    .rev()
                    .map(|e| e.cursor())
                    .find(|c| !c.is_empty())
                    .cloned();
                let next = last.map(Some);
                Ok((page.events, next))
            }
        })
    }

    /// Workspace members as a stream, following `next_cursor` while `has_more`.
    pub fn members(
        &self,
        workspace: &WorkspaceId,
        query: MembersQuery,
    ) -> Paginated<WorkspaceMember> {
        let client = self.clone();
        let workspace = workspace.clone();
        paginate(query, move |q: MembersQuery| {
            let client = client.clone();
            let workspace = workspace.clone();
            async move {
                let page = client.list_members(&workspace, &q).await?;
                let next = page
                    .next_cursor
                    .clone()
                    .filter(|c| page.has_more && !c.is_empty())
                    .map(|c| MembersQuery {
                        cursor: Some(c),
                        ..q.clone()
                    });
                Ok((page.members, next))
            }
        })
    }

    /// Search hits as a stream, following `next_cursor`.
    pub fn search_all(&self, query: SearchQuery) -> Paginated<SearchResult> {
        let client = self.clone();
        paginate(query, move |q: SearchQuery| {
            let client = client.clone();
            async move {
                let page = client.search(&q).await?;
                let next =
                    page.next_cursor
                        .clone()
                        .filter(|c| !c.is_empty())
                        .map(|c| SearchQuery {
                            cursor: Some(c),
                            ..q.clone()
                        });
                Ok((page.results, next))
            }
        })
    }
}
