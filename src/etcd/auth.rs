//! etcd's Auth service, as an etcd with authentication disabled answers it: its status says
//! so, and a client that logs in (etcdctl `--user`) hears etcd's own refusal instead of a
//! token that would mean nothing. Users and roles are not supported.

use tonic::{Request, Response, Status};

use super::convert::header;
use super::error::AUTH_NOT_ENABLED;
use super::EtcdService;
use crate::pb::etcd::etcdserverpb::{self as etcd, auth_server};

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl auth_server::Auth for EtcdService {
    async fn auth_status(
        &self,
        _: Request<etcd::AuthStatusRequest>,
    ) -> Reply<etcd::AuthStatusResponse> {
        Ok(Response::new(etcd::AuthStatusResponse {
            header: header(self.kv.header_now().await),
            enabled: false,
            auth_revision: 0,
        }))
    }

    async fn authenticate(
        &self,
        _: Request<etcd::AuthenticateRequest>,
    ) -> Reply<etcd::AuthenticateResponse> {
        Err(Status::failed_precondition(AUTH_NOT_ENABLED))
    }
}
