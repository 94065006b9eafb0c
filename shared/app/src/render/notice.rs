//! A notice as an email: the subject, the plain-text body and the HTML alternative.

use maud::html;
use stint_domain::notice::Notice;

/// Subject and plain-text body of a notice email.
pub fn email_text(n: &Notice) -> (String, String) {
    let subject = if n.urgent {
        format!("[Stint] BREAK-GLASS: {}", n.title)
    } else {
        format!("[Stint] {}", n.title)
    };
    let mut body = format!("{}\n\n", n.title);
    for (k, v) in &n.fields {
        body.push_str(&format!("{k}: {v}\n"));
    }
    match n.request_id {
        Some(id) => body.push_str(&format!("\nRequest: {id}\n")),
        None => body.push('\n'),
    }
    if let Some(link) = &n.link {
        body.push_str(&format!("Open: {link}\n"));
    }
    // Header injection is impossible through the subject: lines are folded to one.
    (subject.replace(['\r', '\n'], " "), body)
}

/// The HTML alternative: the title, the fields as a table, and a link to the request.
pub fn email_html(n: &Notice) -> String {
    html! {
        h2 { (n.title) }
        table {
            @for (k, v) in &n.fields {
                tr { th align="left" { (k) } td { (v) } }
            }
        }
        @if let Some(link) = &n.link {
            p { a href=(link) { "Open request" } }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use stint_domain::notice::Audience;
    use stint_domain::RequestId;

    fn notice(justification: &str, urgent: bool) -> Notice {
        Notice {
            request_id: Some(RequestId::new()),
            audience: Audience::Approvers,
            title: "alice@example.com asks for db-read".into(),
            fields: vec![
                ("Role".into(), "db-read".into()),
                ("Justification".into(), justification.into()),
            ],
            link: Some("https://stint.example.com/requests/x?a=1&b=\"2\"".into()),
            urgent,
            actions: vec![],
        }
    }

    #[test]
    fn the_html_escapes_every_value_and_attribute() {
        let html = email_html(&notice(
            "stuck <script>alert('x')</script> \"quoted\" & more",
            false,
        ));
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains(
                "<td>stuck &lt;script&gt;alert('x')&lt;/script&gt; &quot;quoted&quot; &amp; more</td>"
            ),
            "{html}"
        );
        // The link stays inside its double-quoted attribute.
        assert!(
            html.contains(
                r#"<a href="https://stint.example.com/requests/x?a=1&amp;b=&quot;2&quot;">Open request</a>"#
            ),
            "{html}"
        );
        assert!(html.starts_with("<h2>alice@example.com asks for db-read</h2><table><tr><th align=\"left\">Role</th><td>db-read</td></tr>"));
    }

    #[test]
    fn break_glass_says_so_in_the_subject_and_the_subject_is_one_line() {
        let mut n = notice("why", true);
        n.title = "took db-write\r\nBcc: evil@example.com".into();
        let (subject, text) = email_text(&n);
        assert!(subject.starts_with("[Stint] BREAK-GLASS: "), "{subject}");
        assert!(!subject.contains(['\r', '\n']), "{subject}");
        assert!(text.contains("Justification: why\n"), "{text}");
        assert!(text.contains(&format!("Request: {}\n", n.request_id.unwrap())));
    }
}
