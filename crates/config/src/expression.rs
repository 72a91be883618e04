//! Kea's classification expression language (the `test` of a client class), parsed once at
//! load into a small tree and evaluated per packet through [`PacketView`].
//!
//! The language is Kea's (`src/lib/eval/parser.yy` and the ARM's "Using Expressions in
//! Classification"): a boolean expression over string values. Supported: `option[N]` and
//! `option[name]` with `.hex`, `.text` and `.exists`; `relay4[N]` with the same; `pkt4.mac`,
//! `.hlen`, `.htype`, `.ciaddr`, `.giaddr`, `.yiaddr`, `.siaddr`, `.msgtype`, `.transid`;
//! `pkt.iface`, `.src`, `.dst`, `.len`; string, hex (`0x...`), integer and IPv4 literals;
//! `substring`, `concat`, `hexstring`, `ifelse`; `==`, `and`, `or`, `not`, parentheses; and
//! `member('CLASS')`. As in Kea, integers in a string context are four bytes in network
//! order, and `not` binds tighter than `and`, which binds tighter than `or`.
//!
//! Parsing never panics; an error says what was expected and at which character.

/// How an option's value is read: `.hex` (raw bytes) or `.text` (a textual rendering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// `.hex`: the payload as it is on the wire.
    Hex,
    /// `.text`: the payload as text; addresses are dotted, other payloads as they are.
    Text,
}

/// A header field of the DHCPv4 query (`pkt4.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pkt4Field {
    /// `pkt4.mac`: `chaddr` cut to `hlen`.
    Mac,
    /// `pkt4.hlen`, four bytes.
    Hlen,
    /// `pkt4.htype`, four bytes.
    Htype,
    /// `pkt4.ciaddr`.
    Ciaddr,
    /// `pkt4.giaddr`.
    Giaddr,
    /// `pkt4.yiaddr`.
    Yiaddr,
    /// `pkt4.siaddr`.
    Siaddr,
    /// `pkt4.msgtype`, four bytes.
    Msgtype,
    /// `pkt4.transid`, four bytes.
    Transid,
}

/// Metadata of the received datagram (`pkt.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PktField {
    /// `pkt.iface`: the receiving interface's name.
    Iface,
    /// `pkt.src`: the source address.
    Src,
    /// `pkt.dst`: the destination address.
    Dst,
    /// `pkt.len`: the datagram length, four bytes.
    Len,
}

/// A boolean expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `not C`.
    Not(Box<Self>),
    /// `A and B`.
    And(Box<Self>, Box<Self>),
    /// `A or B`.
    Or(Box<Self>, Box<Self>),
    /// `a == b`, comparing bytes.
    Equal(Text, Text),
    /// `option[N].exists`.
    OptionExists(u8),
    /// `relay4[N].exists`: sub-option N of option 82.
    RelayExists(u8),
    /// `member('X')`.
    Member(String),
}

/// A string-valued expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    /// A literal: string, hex, integer (four bytes) or IPv4 address (four bytes).
    Literal(Vec<u8>),
    /// `option[N].hex` or `.text`; the `bool` is true when `.text` renders an address list.
    Option(u8, Representation, bool),
    /// `relay4[N].hex` or `.text`.
    Relay(u8, Representation),
    /// `pkt4.*`.
    Pkt4(Pkt4Field),
    /// `pkt.*`.
    Pkt(PktField),
    /// `substring(text, start, length)`; `None` length is `all`.
    Substring(Box<Self>, i64, Option<i64>),
    /// `concat(a, b)`.
    Concat(Box<Self>, Box<Self>),
    /// `ifelse(condition, a, b)`.
    IfElse(Box<Condition>, Box<Self>, Box<Self>),
    /// `hexstring(text, separator)`.
    HexString(Box<Self>, Vec<u8>),
    /// A condition used as a string: `'true'` or `'false'`.
    Boolean(Box<Condition>),
}

/// What evaluation needs to know about a packet.
pub trait PacketView {
    /// The payload of option `code`, if the packet has it.
    fn option(&self, code: u8) -> Option<&[u8]>;
    /// The payload of sub-option `code` of the relay agent information option.
    fn relay_sub_option(&self, code: u8) -> Option<&[u8]>;
    /// A header field, as Kea renders it (addresses as four bytes, numbers as four bytes).
    fn pkt4(&self, field: Pkt4Field) -> Vec<u8>;
    /// Datagram metadata.
    fn pkt(&self, field: PktField) -> Vec<u8>;
    /// Whether the packet is already in class `name`.
    fn is_member(&self, name: &str) -> bool;
}

impl Condition {
    /// Evaluates the condition for `packet`.
    pub fn evaluate(&self, packet: &dyn PacketView) -> bool {
        match self {
            Self::Not(inner) => !inner.evaluate(packet),
            Self::And(left, right) => left.evaluate(packet) && right.evaluate(packet),
            Self::Or(left, right) => left.evaluate(packet) || right.evaluate(packet),
            Self::Equal(left, right) => left.evaluate(packet) == right.evaluate(packet),
            Self::OptionExists(code) => packet.option(*code).is_some(),
            Self::RelayExists(code) => packet.relay_sub_option(*code).is_some(),
            Self::Member(name) => packet.is_member(name),
        }
    }

    /// Class names this condition refers to through `member`.
    pub fn members(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.collect_members(&mut names);
        names
    }

    fn collect_members<'s>(&'s self, names: &mut Vec<&'s str>) {
        match self {
            Self::Not(inner) => inner.collect_members(names),
            Self::And(left, right) | Self::Or(left, right) => {
                left.collect_members(names);
                right.collect_members(names);
            }
            Self::Equal(left, right) => {
                left.collect_members(names);
                right.collect_members(names);
            }
            Self::Member(name) => names.push(name),
            Self::OptionExists(_) | Self::RelayExists(_) => {}
        }
    }
}

impl Text {
    /// Evaluates the expression for `packet`.
    pub fn evaluate(&self, packet: &dyn PacketView) -> Vec<u8> {
        match self {
            Self::Literal(bytes) => bytes.clone(),
            Self::Option(code, representation, addresses) => {
                let data = packet.option(*code).unwrap_or_default();
                render(data, *representation, *addresses)
            }
            Self::Relay(code, representation) => {
                let data = packet.relay_sub_option(*code).unwrap_or_default();
                render(data, *representation, false)
            }
            Self::Pkt4(field) => packet.pkt4(*field),
            Self::Pkt(field) => packet.pkt(*field),
            Self::Substring(inner, start, length) => {
                substring(&inner.evaluate(packet), *start, *length)
            }
            Self::Concat(left, right) => {
                let mut bytes = left.evaluate(packet);
                bytes.extend(right.evaluate(packet));
                bytes
            }
            Self::IfElse(condition, then, otherwise) => match condition.evaluate(packet) {
                true => then.evaluate(packet),
                false => otherwise.evaluate(packet),
            },
            Self::HexString(inner, separator) => {
                let bytes = inner.evaluate(packet);
                let mut out = Vec::with_capacity(bytes.len() * (2 + separator.len()));
                for (index, byte) in bytes.iter().enumerate() {
                    if index > 0 {
                        out.extend_from_slice(separator);
                    }
                    out.extend(format!("{byte:02x}").bytes());
                }
                out
            }
            Self::Boolean(condition) => match condition.evaluate(packet) {
                true => b"true".to_vec(),
                false => b"false".to_vec(),
            },
        }
    }

    fn collect_members<'s>(&'s self, names: &mut Vec<&'s str>) {
        match self {
            Self::Substring(inner, _, _) | Self::HexString(inner, _) => {
                inner.collect_members(names);
            }
            Self::Concat(left, right) => {
                left.collect_members(names);
                right.collect_members(names);
            }
            Self::IfElse(condition, then, otherwise) => {
                condition.collect_members(names);
                then.collect_members(names);
                otherwise.collect_members(names);
            }
            Self::Boolean(condition) => condition.collect_members(names),
            _ => {}
        }
    }
}

fn render(data: &[u8], representation: Representation, addresses: bool) -> Vec<u8> {
    if representation == Representation::Hex || !addresses || !data.len().is_multiple_of(4) {
        return data.to_vec();
    }
    let text: Vec<String> = data
        .chunks(4)
        .map(|octets| format!("{}.{}.{}.{}", octets[0], octets[1], octets[2], octets[3]))
        .collect();
    text.join(",").into_bytes()
}

/// Kea's `substring`: a negative start counts from the end, a negative length takes bytes
/// before the start, and anything out of range is clipped (or empty).
fn substring(bytes: &[u8], start: i64, length: Option<i64>) -> Vec<u8> {
    let size = bytes.len() as i64;
    let start = if start < 0 { size + start } else { start };
    if start < 0 || start >= size {
        return Vec::new();
    }
    let (from, to) = match length {
        None => (start, size),
        Some(length) if length >= 0 => (start, (start + length).min(size)),
        Some(length) => ((start + length).max(0), start),
    };
    bytes[from as usize..to as usize].to_vec()
}

/// Resolves option names in `option[name]` to codes, and says whether `.text` of an option
/// renders addresses.
pub trait OptionNames {
    /// The code of the option named `name`.
    fn code_of(&self, name: &str) -> Option<u8>;
    /// Whether option `code` holds IPv4 addresses.
    fn holds_addresses(&self, code: u8) -> bool;
}

/// A parse error: what went wrong and at which character of the expression (0-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Character position in the expression text.
    pub position: usize,
    /// What was expected or found.
    pub message: String,
}

/// Parses a class `test` expression.
pub fn parse(text: &str, names: &dyn OptionNames) -> Result<Condition, ParseError> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        tokens,
        next: 0,
        names,
        end: text.len(),
    };
    let condition = parser.or()?;
    match parser.peek() {
        None => Ok(condition),
        Some(token) => Err(parser.error_at(token.position, "expected the end of the expression")),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Str(String),
    Hex(Vec<u8>),
    Integer(i64),
    Address([u8; 4]),
    Word(String),
    Punct(&'static str),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    position: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    let error = |position: usize, message: &str| ParseError {
        position,
        message: message.to_owned(),
    };
    while at < bytes.len() {
        let start = at;
        let byte = bytes[at];
        let kind = match byte {
            b' ' | b'\t' | b'\n' | b'\r' => {
                at += 1;
                continue;
            }
            b'\'' => {
                let Some(length) = text[at + 1..].find('\'') else {
                    return Err(error(start, "unterminated string"));
                };
                at += length + 2;
                Kind::Str(text[start + 1..at - 1].to_owned())
            }
            b'=' if bytes.get(at + 1) == Some(&b'=') => {
                at += 2;
                Kind::Punct("==")
            }
            b'[' | b']' | b'(' | b')' | b'.' | b',' => {
                at += 1;
                Kind::Punct(match byte {
                    b'[' => "[",
                    b']' => "]",
                    b'(' => "(",
                    b')' => ")",
                    b'.' => ".",
                    _ => ",",
                })
            }
            b'0' if matches!(bytes.get(at + 1), Some(b'x' | b'X')) => {
                at += 2;
                while at < bytes.len() && bytes[at].is_ascii_hexdigit() {
                    at += 1;
                }
                let digits = &text[start + 2..at];
                let padded = match digits.len() % 2 {
                    1 => format!("0{digits}"),
                    _ => digits.to_owned(),
                };
                let hex = crate::options::decode_hex(&padded)
                    .map_err(|_| error(start, "bad hex literal"))?;
                Kind::Hex(hex)
            }
            b'0'..=b'9' | b'-' => lex_number(text, &mut at)?,
            byte if byte.is_ascii_alphabetic() || byte == b'_' => {
                while at < bytes.len()
                    && (bytes[at].is_ascii_alphanumeric() || matches!(bytes[at], b'_' | b'-'))
                {
                    at += 1;
                }
                Kind::Word(text[start..at].to_owned())
            }
            _ => return Err(error(start, "unexpected character")),
        };
        tokens.push(Token {
            kind,
            position: start,
        });
    }
    Ok(tokens)
}

/// An integer, or an IPv4 address (four dot-separated integers).
fn lex_number(text: &str, at: &mut usize) -> Result<Kind, ParseError> {
    let bytes = text.as_bytes();
    let start = *at;
    if bytes[*at] == b'-' {
        *at += 1;
    }
    let digits = |at: &mut usize| {
        while *at < bytes.len() && bytes[*at].is_ascii_digit() {
            *at += 1;
        }
    };
    digits(at);
    let looks_like_address = bytes.get(*at) == Some(&b'.')
        && bytes.get(*at + 1).is_some_and(u8::is_ascii_digit)
        && bytes[start] != b'-';
    if looks_like_address {
        for _ in 0..3 {
            if bytes.get(*at) == Some(&b'.') {
                *at += 1;
                digits(at);
            }
        }
        let address: std::net::Ipv4Addr = text[start..*at].parse().map_err(|_| ParseError {
            position: start,
            message: format!("'{}' is not an IPv4 address", &text[start..*at]),
        })?;
        return Ok(Kind::Address(address.octets()));
    }
    text[start..*at]
        .parse()
        .map(Kind::Integer)
        .map_err(|_| ParseError {
            position: start,
            message: "bad integer".to_owned(),
        })
}

struct Parser<'a> {
    tokens: Vec<Token>,
    next: usize,
    names: &'a dyn OptionNames,
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn position(&self) -> usize {
        self.peek().map_or(self.end, |token| token.position)
    }

    fn error_at(&self, position: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            position,
            message: message.into(),
        }
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.position(), message)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: Kind::Word(w), .. }) if w == word)
    }

    fn is_punct(&self, punct: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: Kind::Punct(p), .. }) if *p == punct)
    }

    fn expect(&mut self, punct: &'static str) -> Result<(), ParseError> {
        if !self.is_punct(punct) {
            return Err(self.error(format!("expected '{punct}'")));
        }
        self.next += 1;
        Ok(())
    }

    fn word(&mut self) -> Result<String, ParseError> {
        match self.peek().map(|token| token.kind.clone()) {
            Some(Kind::Word(word)) => {
                self.next += 1;
                Ok(word)
            }
            _ => Err(self.error("expected a name")),
        }
    }

    fn or(&mut self) -> Result<Condition, ParseError> {
        let mut left = self.and()?;
        while self.is_word("or") {
            self.next += 1;
            let right = self.and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, ParseError> {
        let mut left = self.unary()?;
        while self.is_word("and") {
            self.next += 1;
            let right = self.unary()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Condition, ParseError> {
        if self.is_word("not") {
            self.next += 1;
            return Ok(Condition::Not(Box::new(self.unary()?)));
        }
        if self.is_punct("(") {
            self.next += 1;
            let inner = self.or()?;
            self.expect(")")?;
            return Ok(inner);
        }
        if self.is_word("member") {
            self.next += 1;
            self.expect("(")?;
            let Some(Kind::Str(name)) = self.peek().map(|token| token.kind.clone()) else {
                return Err(self.error("expected a class name in quotes"));
            };
            self.next += 1;
            self.expect(")")?;
            return Ok(Condition::Member(name));
        }
        let start = self.next;
        if let Some(exists) = self.exists()? {
            return Ok(exists);
        }
        self.next = start;
        let left = self.text()?;
        self.expect("==")?;
        let right = self.text()?;
        Ok(Condition::Equal(left, right))
    }

    /// `option[N].exists` or `relay4[N].exists`, if that is what comes.
    fn exists(&mut self) -> Result<Option<Condition>, ParseError> {
        let relay = self.is_word("relay4");
        if !relay && !self.is_word("option") {
            return Ok(None);
        }
        self.next += 1;
        let code = self.option_code(relay)?;
        self.expect(".")?;
        if !self.is_word("exists") {
            return Ok(None);
        }
        self.next += 1;
        Ok(Some(match relay {
            true => Condition::RelayExists(code),
            false => Condition::OptionExists(code),
        }))
    }

    fn option_code(&mut self, relay: bool) -> Result<u8, ParseError> {
        self.expect("[")?;
        let position = self.position();
        let code = match self.peek().map(|token| token.kind.clone()) {
            Some(Kind::Integer(code)) => u8::try_from(code)
                .ok()
                .filter(|&code| code != 0 && code != 255)
                .ok_or_else(|| self.error_at(position, "option code must be 1-254"))?,
            Some(Kind::Word(name)) if !relay => self
                .names
                .code_of(&name)
                .ok_or_else(|| self.error_at(position, format!("unknown option '{name}'")))?,
            _ => return Err(self.error("expected an option code")),
        };
        self.next += 1;
        self.expect("]")?;
        Ok(code)
    }

    fn representation(&mut self) -> Result<Representation, ParseError> {
        self.expect(".")?;
        let representation = match self.word()?.as_str() {
            "hex" => Representation::Hex,
            "text" => Representation::Text,
            _ => {
                self.next -= 1;
                return Err(self.error("expected hex, text or exists"));
            }
        };
        Ok(representation)
    }

    fn integer(&mut self) -> Result<i64, ParseError> {
        match self.peek().map(|token| token.kind.clone()) {
            Some(Kind::Integer(value)) => {
                self.next += 1;
                Ok(value)
            }
            _ => Err(self.error("expected an integer")),
        }
    }

    fn text(&mut self) -> Result<Text, ParseError> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.error("expected a value"));
        };
        self.next += 1;
        let word = match token.kind {
            Kind::Str(text) => return Ok(Text::Literal(text.into_bytes())),
            Kind::Hex(bytes) => return Ok(Text::Literal(bytes)),
            Kind::Address(octets) => return Ok(Text::Literal(octets.to_vec())),
            Kind::Integer(value) => {
                let value = u32::try_from(value)
                    .map_err(|_| self.error_at(token.position, "integer out of range"))?;
                return Ok(Text::Literal(value.to_be_bytes().to_vec()));
            }
            Kind::Punct(_) => return Err(self.error_at(token.position, "expected a value")),
            Kind::Word(word) => word,
        };
        match word.as_str() {
            "option" => {
                let code = self.option_code(false)?;
                let representation = self.representation()?;
                Ok(Text::Option(
                    code,
                    representation,
                    self.names.holds_addresses(code),
                ))
            }
            "relay4" => {
                let code = self.option_code(true)?;
                Ok(Text::Relay(code, self.representation()?))
            }
            "pkt4" => self.pkt4(),
            "pkt" => self.pkt(),
            "substring" => {
                self.expect("(")?;
                let inner = self.text()?;
                self.expect(",")?;
                let start = self.integer()?;
                self.expect(",")?;
                let length = match self.is_word("all") {
                    true => {
                        self.next += 1;
                        None
                    }
                    false => Some(self.integer()?),
                };
                self.expect(")")?;
                Ok(Text::Substring(Box::new(inner), start, length))
            }
            "concat" => {
                self.expect("(")?;
                let left = self.text()?;
                self.expect(",")?;
                let right = self.text()?;
                self.expect(")")?;
                Ok(Text::Concat(Box::new(left), Box::new(right)))
            }
            "hexstring" => {
                self.expect("(")?;
                let inner = self.text()?;
                self.expect(",")?;
                let separator = match self.peek().map(|token| token.kind.clone()) {
                    Some(Kind::Str(separator)) => separator.into_bytes(),
                    _ => return Err(self.error("expected a separator in quotes")),
                };
                self.next += 1;
                self.expect(")")?;
                Ok(Text::HexString(Box::new(inner), separator))
            }
            "ifelse" => {
                self.expect("(")?;
                let condition = self.or()?;
                self.expect(",")?;
                let then = self.text()?;
                self.expect(",")?;
                let otherwise = self.text()?;
                self.expect(")")?;
                Ok(Text::IfElse(
                    Box::new(condition),
                    Box::new(then),
                    Box::new(otherwise),
                ))
            }
            other => Err(self.error_at(token.position, format!("unknown function '{other}'"))),
        }
    }

    fn pkt4(&mut self) -> Result<Text, ParseError> {
        self.expect(".")?;
        let position = self.position();
        let field = match self.word()?.as_str() {
            "mac" => Pkt4Field::Mac,
            "hlen" => Pkt4Field::Hlen,
            "htype" => Pkt4Field::Htype,
            "ciaddr" => Pkt4Field::Ciaddr,
            "giaddr" => Pkt4Field::Giaddr,
            "yiaddr" => Pkt4Field::Yiaddr,
            "siaddr" => Pkt4Field::Siaddr,
            "msgtype" => Pkt4Field::Msgtype,
            "transid" => Pkt4Field::Transid,
            other => return Err(self.error_at(position, format!("unknown field pkt4.{other}"))),
        };
        Ok(Text::Pkt4(field))
    }

    fn pkt(&mut self) -> Result<Text, ParseError> {
        self.expect(".")?;
        let position = self.position();
        let field = match self.word()?.as_str() {
            "iface" => PktField::Iface,
            "src" => PktField::Src,
            "dst" => PktField::Dst,
            "len" => PktField::Len,
            other => return Err(self.error_at(position, format!("unknown field pkt.{other}"))),
        };
        Ok(Text::Pkt(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Names;

    impl OptionNames for Names {
        fn code_of(&self, name: &str) -> Option<u8> {
            (name == "host-name").then_some(12)
        }

        fn holds_addresses(&self, code: u8) -> bool {
            code == 3
        }
    }

    struct Packet;

    impl PacketView for Packet {
        fn option(&self, code: u8) -> Option<&[u8]> {
            match code {
                77 => Some(b"site-a"),
                3 => Some(&[10, 0, 0, 1]),
                12 => Some(b"host"),
                _ => None,
            }
        }

        fn relay_sub_option(&self, code: u8) -> Option<&[u8]> {
            (code == 1).then_some(&[0xab, 0xcd])
        }

        fn pkt4(&self, field: Pkt4Field) -> Vec<u8> {
            match field {
                Pkt4Field::Mac => vec![2, 0, 0, 0, 0, 1],
                Pkt4Field::Msgtype => 1u32.to_be_bytes().to_vec(),
                Pkt4Field::Giaddr => vec![10, 1, 0, 1],
                _ => vec![0; 4],
            }
        }

        fn pkt(&self, _: PktField) -> Vec<u8> {
            b"eth0".to_vec()
        }

        fn is_member(&self, name: &str) -> bool {
            name == "ALL"
        }
    }

    fn holds(text: &str) -> bool {
        parse(text, &Names).unwrap().evaluate(&Packet)
    }

    #[test]
    fn evaluates_kea_expressions() {
        assert!(holds("option[77].hex == 'site-a'"));
        assert!(holds("option[77].text == 'site-a' and option[77].exists"));
        assert!(holds("not option[60].exists"));
        assert!(holds("relay4[1].hex == 0xabcd and relay4[1].exists"));
        assert!(!holds("relay4[2].exists"));
        assert!(holds("pkt4.mac == 0x020000000001"));
        assert!(holds("pkt4.giaddr == 10.1.0.1"));
        assert!(holds("pkt4.msgtype == 1"));
        assert!(holds("substring(option[77].hex, 0, 4) == 'site'"));
        assert!(holds("substring(option[77].hex, -1, all) == 'a'"));
        assert!(holds("concat('a', 'b') == 'ab'"));
        assert!(holds("hexstring(pkt4.mac, ':') == '02:00:00:00:00:01'"));
        assert!(holds("ifelse(option[77].exists, 'y', 'n') == 'y'"));
        assert!(holds("member('ALL') and not member('KNOWN')"));
        assert!(holds("option[3].text == '10.0.0.1'"));
        assert!(holds("option[host-name].text == 'host'"));
        assert!(holds(
            "(member('X') or member('ALL')) and option[77].exists"
        ));
        assert!(holds("member('X') or member('ALL') and option[77].exists"));
    }

    #[test]
    fn substring_clips_like_kea() {
        assert_eq!(substring(b"abcdef", 1, Some(2)), b"bc");
        assert_eq!(substring(b"abcdef", 4, Some(10)), b"ef");
        assert_eq!(substring(b"abcdef", 3, Some(-2)), b"bc");
        assert_eq!(substring(b"abcdef", 9, None), b"");
        assert_eq!(substring(b"abcdef", -2, None), b"ef");
    }

    #[test]
    fn errors_say_where() {
        let error = parse("option[77].hex == ", &Names).unwrap_err();
        assert_eq!(error.position, 18);
        let error = parse("option[77].hexx == 'a'", &Names).unwrap_err();
        assert!(error.message.contains("hex, text or exists"));
        let error = parse("option[foo].hex == 'a'", &Names).unwrap_err();
        assert!(error.message.contains("unknown option 'foo'"));
        assert!(parse("member(ALL)", &Names).is_err());
        assert!(parse("'a' == 'b' 'c'", &Names).is_err());
        assert!(parse("'unterminated", &Names).is_err());
    }
}
