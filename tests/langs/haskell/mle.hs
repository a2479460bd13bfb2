import qualified Data.ByteString.Char8 as B
import Control.Monad (foldM)

-- 1 GiB in 1 MiB blocks, each a distinct, fully written ByteString.
main :: IO ()
main = do
  blocks <- foldM (\acc i -> do
                     let b = B.replicate (1024 * 1024) (toEnum (65 + i `mod` 26))
                     B.length b `seq` return (b : acc)) [] [1 .. 1024 :: Int]
  print (sum (map B.length blocks))
